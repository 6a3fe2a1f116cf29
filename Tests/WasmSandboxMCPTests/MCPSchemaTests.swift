import Foundation
import MCP
import Testing
import WasmSandbox
import WasmSandboxMCP

/// The schemas a client reads must say what the server does: every argument the schema lists
/// is accepted in every shape and within the bounds it gives, nothing else is, and the result
/// statuses are the sandbox's. Checked through the client, against the schema as it is sent.
@Suite("execute_code schemas agree with the server")
struct MCPSchemaTests {
    static let base: [String: Value] = ["language": "javascript", "code": "1"]

    static func executeCodeTool() async throws -> Tool {
        let client = try await connectedClient()
        let (tools, _) = try await client.listTools()
        return try #require(tools.first { $0.name == "execute_code" })
    }

    /// An outcome as a test can compare it: `nil` for a tool result, whatever its status, or
    /// the `invalid params` message.
    static func refusal(_ client: Client, _ arguments: [String: Value]) async -> String? {
        let message = await invalidParamsMessage(client, arguments)
        return message.hasPrefix("no error: ") ? nil : message
    }

    /// Values that a property's schema allows: for integers both bounds, for strings with an
    /// `enum` each choice, for arrays of objects an item with each optional field.
    static func samples(_ schema: Value) throws -> [Value] {
        let object = try #require(schema.objectValue)
        switch object["type"]?.stringValue {
        case "string":
            // Valid base64 as well as text, so that it serves for every string field; and a
            // name for a field with a pattern (session_id).
            return object["enum"]?.arrayValue ?? (object["pattern"] != nil ? ["aGk-1"] : ["aGk="])
        case "integer":
            return [try #require(object["minimum"]), try #require(object["maximum"])]
        case "object":
            let values = try samples(try #require(object["additionalProperties"]))
            return [.object(["A": try #require(values.first)])]
        case "array":
            let items = try #require(object["items"]?.objectValue)
            guard items["type"] == "object" else { return [.array(try samples(.object(items)))] }
            let required = Set((items["required"]?.arrayValue ?? []).compactMap(\.stringValue))
            let properties = try #require(items["properties"]?.objectValue)
            var item: [String: Value] = [:]
            for name in required { item[name] = try samples(properties[name] ?? [:]).first }
            return try properties.keys.sorted().filter { !required.contains($0) }.map { name in
                var sample = item
                sample[name] = try samples(properties[name] ?? [:]).first
                return .array([.object(sample)])
            }
        default:
            Issue.record("no samples for the schema \(schema)")
            return []
        }
    }

    /// Code that each language accepts, so that a call fails, if at all, only on what it tests.
    static func code(for language: String) -> Value {
        switch language {
        case "wasm": "AGFzbQEAAAA="  // an empty module: it runs and fails, but it decodes
        case "wat": "(module)"
        default: "1"
        }
    }

    @Test func everyListedArgumentIsAcceptedWithinItsBounds() async throws {
        let tool = try await Self.executeCodeTool()
        let properties = try #require(tool.inputSchema.objectValue?["properties"]?.objectValue)
        let client = try await connectedClient()
        for (name, schema) in properties.sorted(by: { $0.key < $1.key }) where name != "code" {
            for sample in try Self.samples(schema) {
                var arguments = Self.base
                arguments[name] = sample
                if name == "language", let language = sample.stringValue {
                    arguments["code"] = Self.code(for: language)
                }
                #expect(await Self.refusal(client, arguments) == nil, "\(name): \(sample)")
            }
        }
    }

    @Test func integersJustOutsideTheirBoundsAreRefusedByName() async throws {
        let tool = try await Self.executeCodeTool()
        let properties = try #require(tool.inputSchema.objectValue?["properties"]?.objectValue)
        let integers = properties.filter { $0.value.objectValue?["type"] == "integer" }
        #expect(Set(integers.keys) == ["timeout_ms", "memory_mb", "fuel"])
        let client = try await connectedClient()
        for (name, schema) in integers {
            let minimum = try #require(schema.objectValue?["minimum"]?.intValue)
            let maximum = try #require(schema.objectValue?["maximum"]?.intValue)
            for outside in [minimum - 1, maximum + 1] {
                let refusal = await Self.refusal(client, Self.base.merging([name: .int(outside)]) { $1 })
                #expect(refusal == "'\(name)' must be an integer from \(minimum) to \(maximum), got \(outside)")
            }
        }
    }

    @Test func argumentsNotListedAreRefused() async throws {
        let tool = try await Self.executeCodeTool()
        let schema = try #require(tool.inputSchema.objectValue)
        #expect(schema["additionalProperties"] == false)
        let listed = Set(try #require(schema["properties"]?.objectValue).keys)
        let client = try await connectedClient()
        // Near misses of real names, and a name the result reports but the call does not take.
        for name in ["bogus", "Language", "timeoutMs", "max_output_kb", "argv"] {
            #expect(!listed.contains(name))
            #expect(await Self.refusal(client, Self.base.merging([name: "1"]) { $1 }) == "unknown argument '\(name)'")
        }
        let files = try #require(schema["properties"]?.objectValue?["files"]?.objectValue?["items"]?.objectValue)
        #expect(files["additionalProperties"] == false)
        #expect(
            await Self.refusal(client, Self.base.merging(["files": [["name": "a", "text": "x", "mode": 7]]]) { $1 })
                == "'files[0]' has an unknown field 'mode'")
    }

    @Test func exactlyTheRequiredArgumentsAreRequired() async throws {
        let tool = try await Self.executeCodeTool()
        let required = try #require(tool.inputSchema.objectValue?["required"]?.arrayValue).compactMap(\.stringValue)
        #expect(Set(required) == Set(Self.base.keys))
        let client = try await connectedClient()
        for name in required {
            var arguments = Self.base
            arguments[name] = nil
            #expect(await Self.refusal(client, arguments) == "missing argument '\(name)'")
        }
    }

    @Test func theLanguagesAreTheSandboxs() async throws {
        let tool = try await Self.executeCodeTool()
        let languages = tool.inputSchema.objectValue?["properties"]?.objectValue?["language"]?.objectValue?["enum"]
        #expect(languages == .array(Language.allCases.map { .string($0.rawValue) }))
    }

    @Test func theStatusesAreExactlyTheSandboxs() async throws {
        let tool = try await Self.executeCodeTool()
        let status = tool.outputSchema?.objectValue?["properties"]?.objectValue?["status"]?.objectValue
        let listed = try #require(status?["enum"]?.arrayValue).compactMap(\.stringValue)
        #expect(listed.count == Set(listed).count)
        #expect(Set(listed) == Set(ExecutionResult.Status.allCases.map(\.rawValue)))
    }
}
