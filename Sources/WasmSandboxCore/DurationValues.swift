extension Duration {
    /// The duration in seconds, as results, audit lines and quota answers report it.
    package var secondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in milliseconds, to the microsecond.
    package var millisecondsValue: Double {
        (secondsValue * 1_000_000).rounded() / 1_000
    }
}
