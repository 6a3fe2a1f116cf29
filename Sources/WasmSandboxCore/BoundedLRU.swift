/// Values by key, bounded by a count and by a sum of sizes, the least recently used dropped
/// first past either. Not synchronized: its owner holds it under a lock. The module caches
/// of both backends keep their modules in one.
package struct BoundedLRU<Value> {
    private struct Entry {
        var value: Value
        let bytes: Int
        var lastUse: UInt64
    }

    private var entries: [[UInt8]: Entry] = [:]
    private var clock: UInt64 = 0
    /// The sizes of the values held, summed.
    package private(set) var bytes = 0
    let capacity: Int
    let byteCapacity: Int

    package init(capacity: Int, byteCapacity: Int) {
        self.capacity = max(capacity, 0)
        self.byteCapacity = max(byteCapacity, 0)
    }

    /// The value under `key`, counted as a use.
    package mutating func lookUp(_ key: [UInt8]) -> Value? {
        guard entries[key] != nil else { return nil }
        clock += 1
        entries[key]!.lastUse = clock
        return entries[key]!.value
    }

    /// The value under `key`, not counted as a use.
    package func peek(_ key: [UInt8]) -> Value? { entries[key]?.value }

    /// Keeps `value` unless one is there already or it alone is over the byte capacity,
    /// dropping the least recently used to make room.
    package mutating func insert(_ value: Value, key: [UInt8], bytes size: Int) {
        guard capacity > 0, size <= byteCapacity, entries[key] == nil else { return }
        while entries.count >= capacity || bytes + size > byteCapacity,
            let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
        {
            bytes -= entries.removeValue(forKey: oldest)!.bytes
        }
        clock += 1
        entries[key] = Entry(value: value, bytes: size, lastUse: clock)
        bytes += size
    }

    /// Changes the value under `key` in place, if it is there.
    package mutating func update(_ key: [UInt8], _ change: (inout Value) -> Void) {
        guard entries[key] != nil else { return }
        change(&entries[key]!.value)
    }
}
