/// Waits, polling, until `condition` holds or `seconds` pass (a generous bound: the machine
/// may be loaded). Returns whether it held: use as `#expect(try await eventually { ... })`.
func eventually(within seconds: Int = 30, _ condition: () async -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}
