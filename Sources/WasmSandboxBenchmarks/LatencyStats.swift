/// Summary of a set of latency samples, in microseconds.
struct LatencyStats {
    let count: Int
    let median: Double
    let p99: Double

    init(nanoseconds samples: [UInt64]) {
        let sorted = samples.sorted()
        count = sorted.count
        func at(_ quantile: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            return Double(sorted[min(sorted.count - 1, Int(quantile * Double(sorted.count)))]) / 1000
        }
        median = at(0.5)
        p99 = at(0.99)
    }

    var summary: String { "median \(format(median)) µs, p99 \(format(p99)) µs (n=\(count))" }
}

func format(_ value: Double, digits: Int = 1) -> String {
    value.formatted(.number.precision(.fractionLength(digits)).grouping(.never))
}
