import Foundation
import MCP
import Testing
import WasmSandbox

@testable import WasmSandboxMCP

/// The server's own JSON paths (used where the SDK's were slow) must say exactly what the
/// SDK's would.
@Suite("the server's own JSON encoding and decoding")
struct JSONPathTests {
    static let tricky = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} é 🎉 </script>"

    @Test func textIsValidJSONThatReadsBackTheSame() throws {
        let value: Value = [
            "s": .string(Self.tricky), "i": .int(-42), "d": .double(0.1), "big": .double(1e300), "t": true,
            "n": .null, "a": [1, "two", [:]], "o": ["nested": ["deeper": "yes"]],
        ]
        var out: [UInt8] = []
        JSONText.write(value, to: &out)
        #expect(try JSONDecoder().decode(Value.self, from: Data(out)) == value)
        let response = JSONText.response(id: .string("id \"7\""), result: ["ok": true])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(response)) as? [String: Any])
        #expect(parsed["id"] as? String == "id \"7\"" && parsed["jsonrpc"] as? String == "2.0")
    }

    @Test func theValueEncoderAgreesWithJSONEncoder() throws {
        var result = ExecutionResult(status: .exited, message: Self.tricky)
        result.exitCode = 3
        result.stdout = Array("out\n".utf8)
        result.fuelConsumed = UInt64(1) << 60
        result.duration = .milliseconds(12)
        result.files = [WorkspaceFile(path: "a/b.txt", size: 5)]
        result.sessionEnded = true
        result.value = "42"
        let direct = try ValueEncoder().encode(result)
        let viaJSON = try JSONDecoder().decode(Value.self, from: JSONEncoder().encode(result))
        // JSON does not tell 12 from 12.0: numbers are compared as numbers.
        #expect(Self.numbersAsDoubles(direct) == Self.numbersAsDoubles(viaJSON))
        let tool = try CallTool.Result(
            content: [
                .text(text: "t", annotations: nil, _meta: nil),
                .image(data: "aGk=", mimeType: "image/png", annotations: nil, _meta: nil),
                .resourceLink(uri: "wasm-sandbox://runs/x/a", name: "a", mimeType: "text/plain"),
            ], structuredContent: ["k": 1], isError: false)
        #expect(
            Self.numbersAsDoubles(try ValueEncoder().encode(tool))
                == Self.numbersAsDoubles(try JSONDecoder().decode(Value.self, from: JSONEncoder().encode(tool))))
    }

    static func numbersAsDoubles(_ value: Value) -> Value {
        switch value {
        case .int(let integer): .double(Double(integer))
        case .array(let items): .array(items.map(numbersAsDoubles))
        case .object(let members): .object(members.mapValues(numbersAsDoubles))
        default: value
        }
    }

    @Test func plainJSONReadsWhatValueReads() throws {
        let text = #"{"a":[1,2.5,"x",true,null,{"b":"data:text/plain;base64,aGk="}],"c":-7,"d":1e300}"#
        let plain = try JSONDecoder().decode(PlainJSON.self, from: Data(text.utf8)).value
        #expect(plain.objectValue?["c"] == .int(-7))
        #expect(plain.objectValue?["d"] == .double(1e300))
        // The SDK turns a data URL into `.data`; the shortcut keeps the string, which the
        // arguments' decoder turns back the same way.
        let item = plain.objectValue?["a"]?.arrayValue?[5].objectValue?["b"]
        #expect(item == .string("data:text/plain;base64,aGk="))
        #expect(ExecuteCodeField.text(item!) == "data:text/plain;base64,aGk=")
    }
}
