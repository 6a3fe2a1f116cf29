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
        // An optional argument's type is `[type, "null"]`: `null` is a sample too.
        if let types = object["type"]?.arrayValue {
            #expect(types.count == 2 && types.last == "null", "\(schema)")
            var single = object
            single["type"] = types.first
            return try samples(.object(single)) + [.null]
        }
        switch object["type"]?.stringValue {
        case "string":
            // Valid base64 as well as text, so that it serves for every string field; and a
            // name for a field with a pattern (session_id).
            return object["enum"]?.arrayValue ?? (object["pattern"] != nil ? ["aGk-1"] : ["aGk="])
        case "integer":
            return [try #require(object["minimum"]), try #require(object["maximum"])]
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
        let integers = properties.filter { $0.value.objectValue?["type"]?.arrayValue?.first == "integer" }
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

    /// The keywords OpenAI's strict mode (structured outputs) accepts; anything else makes
    /// openai-agents fall back to a non-strict tool, or the API refuse the schema.
    static let strictKeywords: Set<String> = [
        "type", "description", "title", "enum", "const", "properties", "required", "additionalProperties", "items",
        "anyOf", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
        "minItems", "maxItems",
    ]

    /// Strict mode's rules, as OpenAI documents them: the root is an object; every object says
    /// `additionalProperties: false` (no free-form maps); every property is required there, so
    /// an optional one must take `null`; only the keywords above; at most 5 levels of nesting.
    static func checkStrict(_ schema: Value, at path: String, depth: Int = 0) {
        guard let object = schema.objectValue else {
            Issue.record("\(path): not an object schema")
            return
        }
        for key in object.keys.sorted() where !strictKeywords.contains(key) {
            Issue.record("\(path): '\(key)' is not accepted in strict mode")
        }
        #expect(depth <= 5, "\(path): nested \(depth) levels deep")
        let types =
            object["type"]?.arrayValue?.compactMap(\.stringValue) ?? [object["type"]?.stringValue].compactMap { $0 }
        #expect(!types.isEmpty, "\(path): no type")
        if types.contains("object") {
            #expect(object["additionalProperties"] == false, "\(path): additionalProperties must be false")
            let required = Set(object["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            for (name, property) in (object["properties"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                if !required.contains(name) {
                    let propertyTypes = property.objectValue?["type"]?.arrayValue ?? []
                    #expect(propertyTypes.contains("null"), "\(path).\(name): optional, so it must take null")
                }
                checkStrict(property, at: "\(path).\(name)", depth: depth + 1)
            }
        }
        if types.contains("array") {
            guard let items = object["items"] else {
                Issue.record("\(path): an array without items")
                return
            }
            checkStrict(items, at: "\(path)[]", depth: depth + 1)
        }
    }

    @Test func everyInputSchemaPassesOpenAIsStrictMode() async throws {
        let client = try await connectedClient()
        let (tools, _) = try await client.listTools()
        #expect(tools.count == 6)
        for tool in tools {
            #expect(tool.inputSchema.objectValue?["type"] == "object", "\(tool.name)")
            Self.checkStrict(tool.inputSchema, at: tool.name)
        }
    }

    @Test func theStrictModeCheckCatchesWhatStrictModeRefuses() {
        // The old `env`, a free-form map, and an optional field that cannot be null.
        withKnownIssue {
            Self.checkStrict(
                [
                    "type": "object", "additionalProperties": false,
                    "properties": ["env": ["type": "object", "additionalProperties": ["type": "string"]]],
                ], at: "old")
        }
        withKnownIssue {
            Self.checkStrict(
                [
                    "type": "object", "additionalProperties": false,
                    "properties": ["n": ["type": "string", "maxLength": 3]],
                ],
                at: "old")
        }
    }
}
