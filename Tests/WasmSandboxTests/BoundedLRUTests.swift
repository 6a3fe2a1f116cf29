import Testing

@testable import WasmSandboxCore

/// The LRU both backends' module caches keep their modules in.
@Suite("BoundedLRU keeps within its count and bytes")
struct BoundedLRUTests {
    @Test func theLeastRecentlyUsedGoesFirstPastTheCount() {
        var lru = BoundedLRU<String>(capacity: 2, byteCapacity: 100)
        lru.insert("a", key: [1], bytes: 10)
        lru.insert("b", key: [2], bytes: 10)
        #expect(lru.lookUp([1]) == "a")  // [2] is now the least recently used
        lru.insert("c", key: [3], bytes: 10)
        #expect(lru.peek([2]) == nil)
        #expect(lru.peek([1]) == "a")
        #expect(lru.peek([3]) == "c")
        #expect(lru.bytes == 20)
    }

    @Test func bytesBoundTheSumAndAnOversizedValueIsNotKept() {
        var lru = BoundedLRU<Int>(capacity: 10, byteCapacity: 100)
        for key in 0..<5 { lru.insert(key, key: [UInt8(key)], bytes: 30) }
        #expect(lru.bytes == 90)
        #expect((0..<5).filter { lru.peek([UInt8($0)]) != nil } == [2, 3, 4])
        lru.insert(99, key: [99], bytes: 101)
        #expect(lru.peek([99]) == nil)
        #expect(lru.bytes == 90)
        lru.update([3]) { $0 = 33 }
        #expect(lru.peek([3]) == 33)
    }
}
