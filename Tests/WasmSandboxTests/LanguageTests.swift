import Testing
import WasmSandbox

@Suite("Languages by name, and programs as their input")
struct LanguageTests {
    @Test(arguments: [
        ("javascript", Language.javascript), ("js", .javascript), ("python", .python), ("py", .python),
        ("wasm", .wasm), ("wat", .wat),
    ])
    func namesAndAliases(name: String, language: Language) {
        #expect(Language(name: name) == language)
    }

    @Test(arguments: ["cobol", "JavaScript", "", "js "])
    func otherNamesAreNoLanguage(name: String) {
        #expect(Language(name: name) == nil)
    }

    @Test func bytesBecomeTheLanguagesInput() throws {
        let text = Array("print(1)".utf8)
        #expect(try Language.javascript.input(text) == .javascript("print(1)"))
        #expect(try Language.python.input(text) == .python("print(1)"))
        #expect(try Language.wat.input(Array("(module)".utf8)) == .wat("(module)"))
        // A module is bytes, UTF-8 or not.
        #expect(try Language.wasm.input([0, 0x61, 0xFF]) == .wasm([0, 0x61, 0xFF]))
    }

    @Test(arguments: [Language.javascript, .python, .wat])
    func sourcesMustBeUTF8(language: Language) {
        #expect {
            try language.input(Array("ok".utf8) + [0xC3, 0x28])
        } throws: { error in
            (error as? SandboxError)?.message.contains("not valid UTF-8 (at byte 2)") == true
        }
    }
}
