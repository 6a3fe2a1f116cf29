import Foundation
import WasmSandbox

/// The text content of an `execute_code` result: what most clients show the model, so it is
/// compact and laid out the same way every time. The first line is the status and what it
/// means; then `stdout:`, `stderr:` and `value:` (each only when not empty, cut together to
/// the text budget, head and tail kept); the files the run created or changed; the limits.
enum ResultText {
    static func render(
        _ result: ExecutionResult, plan: ExecuteCodePlan, files: [RunFile], budget: Int
    ) -> String {
        var text = statusLine(result) + "\n"
        var sections: [(title: String, body: String)] = []
        if !result.stdout.isEmpty {
            sections.append(
                ("stdout\(result.stdoutTruncated ? " (stopped at the output cap)" : "")", result.stdoutText))
        }
        if !result.stderr.isEmpty {
            sections.append(
                ("stderr\(result.stderrTruncated ? " (stopped at the output cap)" : "")", result.stderrText))
        }
        if let value = result.value {
            sections.append(("value\(result.valueTruncated ? " (cut at the output cap)" : "")", value))
        }
        for (section, body) in zip(sections, TextBudget.fit(sections.map(\.body), budget: budget)) {
            text += "\(section.title):\n\(body)\(body.hasSuffix("\n") ? "" : "\n")"
        }
        if !files.isEmpty {
            text += "files created or changed in /workspace:\n"
            for file in files.prefix(RunFiles.maxListed) {
                var line = "- \(file.path) (\(file.size) bytes, \(file.mimeType)) \(file.uri)"
                if file.image != nil { line += " [shown as an image]" }
                if let skipped = file.imageSkipped { line += " [image not shown: \(skipped)]" }
                text += line + "\n"
            }
            if files.count > RunFiles.maxListed {
                text += "- … and \(files.count - RunFiles.maxListed) more (all in the structured result)\n"
            }
        }
        return text + limitsLine(plan)
    }

    /// `status: <status>`, and in words what happened: the exit code, the trap, or the limit.
    static func statusLine(_ result: ExecutionResult) -> String {
        var line = "status: \(result.status.rawValue)"
        switch result.status {
        case .ok: return line
        case .exited:
            line += " with exit code \(result.exitCode.map(String.init) ?? "?")"
            if result.message == nil {
                line += result.stderr.isEmpty ? ": the program failed" : ": the program failed; stderr says why"
            }
        case .trapped:
            if let trap = result.trap { line += " (\(trap))" }
        default: break
        }
        if let message = result.message {
            let lines = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            // Wasmtime's trap messages start with a backtrace header and end with the cause.
            let cause =
                result.status == .trapped
                ? lines.last { $0.contains("wasm trap:") } ?? lines.last : lines.first
            line += ": " + (cause ?? "")
        }
        if result.sessionEnded == true, !(result.message ?? "").contains("session") {
            line += " (this ended the session: the next call with its session_id starts a new, empty one)"
        }
        return line
    }

    private static func limitsLine(_ plan: ExecuteCodePlan) -> String {
        let limits = plan.limits
        let timeout = limits.timeout.components
        var line =
            "limits: timeout \(timeout.seconds * 1000 + timeout.attoseconds / 1_000_000_000_000_000) ms, "
            + "memory \(limits.memoryBytes >> 20) MiB"
        if let fuel = limits.fuel { line += ", fuel \(fuel)" }
        if !plan.clamped.isEmpty { line += "; clamped to the server's maxima: \(plan.clamped.joined(separator: ", "))" }
        return line
    }
}
