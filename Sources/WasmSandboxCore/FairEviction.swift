/// Which idle item to close when an owner opens one more past a shared cap: the least
/// recently used idle item of the owner holding the most, when that is more than the opener
/// holds, or else one of the opener's own. No owner takes what one holding less has, nor
/// what one holding less than the biggest holder has. The sandbox's code sessions and the
/// MCP server's HTTP sessions both use it.
package enum FairEviction {
    /// - Parameters:
    ///   - owner: Who opens.
    ///   - holdings: What each owner holds (opening included); a missing owner holds nothing.
    ///   - idle: The items that may be closed, with their owner and when they were last used.
    /// - Returns: The item to close, or `nil` when neither the biggest holder nor the opener
    ///   has an idle one.
    package static func victim<Owner: Hashable, Holding: Comparable, Item>(
        for owner: Owner, holdings: [Owner: Holding],
        idle: [(item: Item, owner: Owner, lastUsed: ContinuousClock.Instant)]
    ) -> Item? {
        func oldest(_ belongs: (Owner) -> Bool) -> Item? {
            idle.filter { belongs($0.owner) }.min { $0.lastUsed < $1.lastUsed }?.item
        }
        let others = holdings.filter { $0.key != owner }
        if let most = others.values.max(), holdings[owner].map({ most > $0 }) ?? true,
            let item = oldest({ others[$0] == most })
        {
            return item
        }
        return oldest { $0 == owner }
    }
}
