/// Where a run's compiled module came from.
package enum ModuleSource: Sendable {
    case memory, disk
    /// Compiled for this run, taking this long.
    case compiled(Duration)
}
