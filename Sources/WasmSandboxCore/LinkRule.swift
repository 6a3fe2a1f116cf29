/// Whether a symbolic link at `link` (relative to its directory descriptor) pointing at
/// `target` resolves below that directory: not absolute, and no `..` climbing above it.
///
/// Neither engine follows a link out of a directory it was given, but whoever reads a mount
/// on the host later would; both backends' file layers refuse such links with `EPERM`.
package func linkStaysInside(target: [UInt8], link: [UInt8]) -> Bool {
    let slash = UInt8(ascii: "/")
    guard target.first != slash, link.first != slash else { return false }
    var depth = 0
    func climb(_ components: some Sequence<ArraySlice<UInt8>>) -> Bool {
        for component in components {
            if component.elementsEqual("..".utf8) {
                depth -= 1
            } else if !component.elementsEqual(".".utf8) {
                depth += 1
            }
            if depth < 0 { return false }
        }
        return true
    }
    return climb(link.split(separator: slash).dropLast()) && climb(target.split(separator: slash))
}
