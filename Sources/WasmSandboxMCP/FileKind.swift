/// What a workspace file is, by its name's extension: its MIME type, and whether a client
/// can show it to a model as an image (checked against the file's first bytes too, so a
/// file named `.png` that is not one is never sent as an image).
struct FileKind {
    let name: String
    let mimeType: String
    let isImage: Bool

    init(path: String) {
        let dot = path.lastIndex(of: ".")
        let slash = path.lastIndex(of: "/")
        let ext =
            dot.map { dot in slash.map { $0 < dot } ?? true ? path[path.index(after: dot)...].lowercased() : "" } ?? ""
        name = ext
        switch ext {
        case "png": (mimeType, isImage) = ("image/png", true)
        case "jpg", "jpeg": (mimeType, isImage) = ("image/jpeg", true)
        case "gif": (mimeType, isImage) = ("image/gif", true)
        case "svg": (mimeType, isImage) = ("image/svg+xml", true)
        default: (mimeType, isImage) = (Self.otherTypes[ext] ?? "application/octet-stream", false)
        }
    }

    private static let otherTypes = [
        "txt": "text/plain", "log": "text/plain", "md": "text/markdown", "csv": "text/csv",
        "tsv": "text/tab-separated-values", "json": "application/json", "html": "text/html", "htm": "text/html",
        "xml": "application/xml", "py": "text/x-python", "js": "text/javascript", "wat": "text/plain",
        "wasm": "application/wasm", "pdf": "application/pdf", "zip": "application/zip",
    ]

    /// The type to give the file's contents when they are text: its own, or `text/plain`
    /// for text in a file whose name says nothing.
    var textType: String { mimeType == "application/octet-stream" ? "text/plain" : mimeType }

    /// Whether `bytes` start the way files of this image kind do.
    func matches(_ bytes: [UInt8]) -> Bool {
        switch mimeType {
        case "image/png": bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        case "image/jpeg": bytes.starts(with: [0xFF, 0xD8, 0xFF])
        case "image/gif": bytes.starts(with: Array("GIF87a".utf8)) || bytes.starts(with: Array("GIF89a".utf8))
        case "image/svg+xml":
            String(decoding: bytes.prefix(4096), as: UTF8.self).contains("<svg")
        default: false
        }
    }
}
