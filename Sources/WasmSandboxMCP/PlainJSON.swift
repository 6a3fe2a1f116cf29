import MCP

/// A JSON value decoded without the SDK's `Value` decoder, which compiles a regular expression
/// for every string it reads (to spot data URLs): for a tool call, that was most of what the
/// server spent on the request.
enum PlainJSON: Decodable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([PlainJSON])
    case object([String: PlainJSON])

    init(from decoder: any Decoder) throws {
        if var items = try? decoder.unkeyedContainer() {
            var array: [PlainJSON] = []
            while !items.isAtEnd { array.append(try items.decode(PlainJSON.self)) }
            self = .array(array)
            return
        }
        if let members = try? decoder.container(keyedBy: AnyKey.self) {
            var object: [String: PlainJSON] = [:]
            for key in members.allKeys { object[key.stringValue] = try members.decode(PlainJSON.self, forKey: key) }
            self = .object(object)
            return
        }
        let value = try decoder.singleValueContainer()
        if value.decodeNil() {
            self = .null
        } else if let text = try? value.decode(String.self) {
            self = .string(text)
        } else if let flag = try? value.decode(Bool.self) {
            self = .bool(flag)
        } else if let integer = try? value.decode(Int.self) {
            self = .int(integer)
        } else {
            self = .double(try value.decode(Double.self))
        }
    }

    /// The same value as the SDK's `Value`; strings stay strings.
    var value: Value {
        switch self {
        case .null: .null
        case .bool(let flag): .bool(flag)
        case .int(let integer): .int(integer)
        case .double(let double): .double(double)
        case .string(let text): .string(text)
        case .array(let items): .array(items.map(\.value))
        case .object(let members): .object(members.mapValues(\.value))
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
