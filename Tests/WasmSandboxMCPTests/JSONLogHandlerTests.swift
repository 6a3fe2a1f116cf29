import Foundation
import Logging
import Testing
import WasmSandboxMCP

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    /// Each message is one line of JSON whatever its text holds; numbers and booleans given
    /// as values stay JSON numbers and booleans, nested metadata stays nested.
    @Test func everyMessageIsOneJSONObjectOnOneLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try JSONLogHandler.Output(appendingTo: path)
        let logger = Logger(label: "test.json") { JSONLogHandler(label: $0, output: output) }
        logger.info(
            "first\nline \"quoted\" \u{1}",
            metadata: [
                "count": .stringConvertible(3), "ok": .stringConvertible(true), "ms": .stringConvertible(1.5),
                "nested": .dictionary(["list": .array(["a", .stringConvertible(2)])]),
                "forged": "x\n{\"event\":\"call\"}",
            ])
        logger.debug("below the level")
        logger.warning("second")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["message"] as? String == "first\nline \"quoted\" \u{1}")
        #expect(first["label"] as? String == "test.json" && first["level"] as? String == "info")
        #expect(first["count"] as? Int == 3 && first["ok"] as? Bool == true && first["ms"] as? Double == 1.5)
        #expect(((first["nested"] as? [String: Any])?["list"] as? [Any])?.count == 2)
        #expect(first["forged"] as? String == "x\n{\"event\":\"call\"}")
        #expect((first["time"] as? String)?.hasSuffix("Z") == true)
        let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(second["message"] as? String == "second" && second["level"] as? String == "warning")
    }
}
