import WAT
import WasmKit
import WasmSandboxCore

/// How many fuel units WasmKit burns per second of a tight loop, on this machine and build:
/// the allowance that stands in for the wall clock in runs that never call the host.
///
/// A debug build of the interpreter is some fifty times slower than a release build, and
/// machines differ as much, so a constant would make a timeout mean anything from a tenth to
/// fifty times itself. The loop runs three times on a fixed budget; the fastest run counts,
/// being the one least slowed by other work, and the allowance is twice that rate: a
/// measurement slowed by a busy machine must not end a later run before its deadline (the
/// status would say `timed_out` early). Fuel is not time: on a release build WasmKit fuses this
/// loop's instructions, so a bare `(loop (br 0))` runs some eight timeouts, and code leaving
/// large blocks early (charged in full on entry) can use its allowance before the deadline;
/// the README gives the figures.
enum FuelCalibration {
    /// The loop: a counter incremented forever, a few operators per iteration.
    private static let loop = """
        (module (func (export "spin") (local i32)
          (loop $again (local.set 0 (i32.add (local.get 0) (i32.const 1))) (br $again))))
        """

    /// Units burned per second, at least 10^6 (a floor so that a stalled measurement cannot
    /// leave runs with no fuel at all).
    static func unitsPerSecond(engine: Engine) -> UInt64 {
        // About 0.2 ms a run on a release build: the one-shot CLI pays it on every start.
        let budget: UInt64 = 200_000
        guard let bytes = try? wat2wasm(loop), let module = try? parseWasm(bytes: bytes) else { return 1_000_000_000 }
        var fastest = Double.infinity
        for _ in 0..<3 {
            let store = Store(engine: engine)
            guard let instance = try? module.instantiate(store: store), let spin = instance.exports[function: "spin"]
            else { return 1_000_000_000 }
            store.fuel = Fuel(remaining: budget)
            let start = MonotonicClock.now()
            _ = try? spin.invoke([])
            fastest = min(fastest, Double(MonotonicClock.now() - start) / 1e9)
        }
        return max(UInt64(2 * Double(budget) / max(fastest, 1e-6)), 1_000_000)
    }
}
