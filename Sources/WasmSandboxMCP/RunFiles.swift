import Foundation
import MCP
import WasmSandbox

/// A file a run created or changed in its workspace, as a result reports it.
struct RunFile: Sendable {
    var path: String
    var size: Int
    var mimeType: String
    /// Where `resources/read` finds it.
    var uri: String
    /// Its contents in the structured result, while under the inline budgets.
    var text: String?
    var base64: String?
    /// Its bytes as image content (base64), when it is an image under the image caps.
    var image: String?
    /// Why an image is not shown, when it is one but is over a cap.
    var imageSkipped: String?

    var entry: [String: Value] {
        var entry: [String: Value] = [
            "path": .string(path), "size": .int(size), "mime_type": .string(mimeType), "uri": .string(uri),
        ]
        if let text { entry["text"] = .string(text) }
        if let base64 { entry["base64"] = .string(base64) }
        return entry
    }
}

/// Which workspace files a run created or changed, with what a result carries of each.
enum RunFiles {
    /// A file as seen before a call, to tell whether the call changed it.
    struct Stamp: Equatable, Sendable {
        var size: Int
        var modified: Int64

        init(_ file: WorkspaceFile) {
            size = file.size
            modified = file.modified
        }
    }

    /// What the workspace held before the run.
    enum Baseline: Sendable {
        /// The input files the call sent, compared by contents.
        case inputs([String: [UInt8]])
        /// A session's files after its previous call, compared by size and modification time.
        case stamps([String: Stamp])
    }

    /// Files a result's text lists and links to (`resource_link`); the structured result
    /// lists every one.
    static let maxListed = 50

    struct Report: Sendable {
        var files: [RunFile] = []
        /// Files listed without contents for the inline budgets.
        var omitted = 0
    }

    /// The files of `listing` that differ from `baseline`, read off the cooperative pool.
    static func report(
        _ listing: [WorkspaceFile], in workspace: Workspace, baseline: Baseline,
        configuration: MCPServerConfiguration, uri: @escaping @Sendable (String) -> String
    ) async -> Report {
        await BlockingIO.run {
            var report = Report()
            var inlineBudget = configuration.maxInlineTotalBytes
            var images = 0
            for file in listing {
                var readBytes: [UInt8]?
                switch baseline {
                case .inputs(let inputs):
                    if let input = inputs[file.path], input.count == file.size {
                        readBytes = workspace.contents(of: file.path, maxBytes: file.size)
                        if readBytes == input { continue }
                    }
                case .stamps(let stamps):
                    if stamps[file.path] == Stamp(file) { continue }
                }
                let kind = FileKind(path: file.path)
                var entry = RunFile(path: file.path, size: file.size, mimeType: kind.mimeType, uri: uri(file.path))
                let inline = file.size <= configuration.maxInlineFileBytes && file.size <= inlineBudget
                let showable =
                    kind.isImage && images < configuration.maxImages && file.size <= configuration.maxImageBytes
                if (inline || showable) && readBytes == nil {
                    readBytes = workspace.contents(of: file.path, maxBytes: file.size)
                }
                if inline, let bytes = readBytes {
                    inlineBudget -= bytes.count
                    if let text = String(validating: bytes, as: UTF8.self) {
                        entry.text = text
                    } else {
                        entry.base64 = Data(bytes).base64EncodedString()
                    }
                } else {
                    report.omitted += 1
                }
                if kind.isImage {
                    if showable, let bytes = readBytes, kind.matches(bytes) {
                        entry.image = Data(bytes).base64EncodedString()
                        images += 1
                    } else if file.size > configuration.maxImageBytes {
                        entry.imageSkipped = "larger than the \(configuration.maxImageBytes)-byte image limit"
                    } else if images >= configuration.maxImages {
                        entry.imageSkipped = "past the limit of \(configuration.maxImages) images a result"
                    } else {
                        entry.imageSkipped = "its contents are not a \(kind.name) image"
                    }
                }
                report.files.append(entry)
            }
            return report
        }
    }
}
