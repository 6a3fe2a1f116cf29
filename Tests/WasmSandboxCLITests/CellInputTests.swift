import Testing
import WasmSandbox

@testable import WasmSandboxCLICommands

@Suite("The REPL's cells")
struct CellInputTests {
    @Test(arguments: [
        (["x = 1"], Language.python, true),
        (["def f():"], .python, false),
        (["def f():", "    return 1"], .python, false),
        (["def f():", "    return 1", ""], .python, true),
        (["print((1,"], .python, false),
        (["print('(')"], .python, true),
        (["s = 'it\\'s ('"], .python, true),
        (["x = 1  # (comment"], .python, true),
        (["text = \"\"\"start"], .python, false),
        (["total = 1 + \\"], .python, false),
        (["function f() {"], .javascript, false),
        (["function f() {", "  return 1", "}", ""], .javascript, true),
        (["const s = `{`"], .javascript, true),
        ([""], .python, false),
    ])
    func completeness(lines: [String], language: Language, complete: Bool) {
        #expect(CellInput.isComplete(lines, language: language) == complete, "\(lines)")
    }

    @Test func pipedInputIsSplitAtBlankLines() {
        let text = "x = 1\n\n\ndef f():\n    return x\n  \nf()\nf() + 1\n"
        #expect(CellInput.cells(in: text) == ["x = 1", "def f():\n    return x", "f()\nf() + 1"])
        #expect(CellInput.cells(in: "\n\n").isEmpty)
        #expect(CellInput.cells(in: "1") == ["1"])
        #expect(CellInput.cells(in: "1+1\r\n\r\n2+2\r\n") == ["1+1", "2+2"])
    }
}
