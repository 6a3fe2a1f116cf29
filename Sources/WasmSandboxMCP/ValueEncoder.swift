import MCP

/// Encodes an `Encodable` straight into the MCP SDK's `Value`, without JSON text in between.
///
/// The obvious route, `JSONEncoder` then `JSONDecoder` into `Value`, costs the SDK's
/// `Value` decoder a regular expression compiled for every string (its data-URL check), which
/// made turning a result into structured content the largest cost of a fast call.
struct ValueEncoder {
    func encode(_ value: some Encodable) throws -> Value {
        let root = Node()
        try value.encode(to: NodeEncoder(node: root, codingPath: []))
        return root.value
    }
}

/// A value being built: a scalar, an object or an array of further nodes.
private final class Node {
    enum Kind {
        case scalar(Value)
        case object([String: Node])
        case array([Node])
    }

    var kind = Kind.scalar(.null)

    var value: Value {
        switch kind {
        case .scalar(let value): value
        case .object(let members): .object(members.mapValues(\.value))
        case .array(let items): .array(items.map(\.value))
        }
    }

    func member(_ key: String) -> Node {
        var members: [String: Node] = [:]
        if case .object(let existing) = kind { members = existing }
        let child = Node()
        members[key] = child
        kind = .object(members)
        return child
    }

    func appended() -> Node {
        var items: [Node] = []
        if case .array(let existing) = kind { items = existing }
        let child = Node()
        items.append(child)
        kind = .array(items)
        return child
    }
}

private struct NodeEncoder: Encoder {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = node.kind {} else { node.kind = .object([:]) }
        return KeyedEncodingContainer(KeyedContainer(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = node.kind {} else { node.kind = .array([]) }
        return UnkeyedContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleContainer(node: node, codingPath: codingPath)
    }
}

/// The scalar conversions, shared by every container.
private func scalar(_ value: some Encodable, into node: Node, path: [any CodingKey]) throws {
    switch value {
    case let value as String: node.kind = .scalar(.string(value))
    case let value as Bool: node.kind = .scalar(.bool(value))
    case let value as Int: node.kind = .scalar(.int(value))
    case let value as Double: node.kind = .scalar(.double(value))
    case let value as any BinaryInteger:
        node.kind = .scalar(Int(exactly: value).map { .int($0) } ?? .double(Double(value)))
    case let value as Float: node.kind = .scalar(.double(Double(value)))
    default: try value.encode(to: NodeEncoder(node: node, codingPath: path))
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { node.member(key.stringValue).kind = .scalar(.null) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try scalar(value, into: node.member(key.stringValue), path: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.member("super"), codingPath: codingPath) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key])
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    var count: Int {
        if case .array(let items) = node.kind { items.count } else { 0 }
    }

    mutating func encodeNil() throws { node.appended().kind = .scalar(.null) }

    mutating func encode<T: Encodable>(_ value: T) throws { try scalar(value, into: node.appended(), path: codingPath) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        NodeEncoder(node: node.appended(), codingPath: codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        NodeEncoder(node: node.appended(), codingPath: codingPath).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.appended(), codingPath: codingPath) }
}

private struct SingleContainer: SingleValueEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.kind = .scalar(.null) }

    mutating func encode<T: Encodable>(_ value: T) throws { try scalar(value, into: node, path: codingPath) }
}
