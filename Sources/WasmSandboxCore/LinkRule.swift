/// Whether a guest may create a symbolic link pointing at `target`: a relative path that
/// only goes down (no `..` component, not absolute).
///
/// Neither engine follows a link out of a directory it was given, but whoever reads a mount
/// on the host later would; both backends' file layers refuse other links with `EPERM`.
/// Counting `..` against the link's own depth is not enough: the link's path may pass
/// through another link (`d/up -> ..`, then `d/up/x -> ../secret` lands beside the mount),
/// and a path's text does not say which of its components are links. A link that only goes
/// down stays below its directory through any chain of such links.
package func linkPointsDown(target: [UInt8]) -> Bool {
    let slash = UInt8(ascii: "/")
    guard target.first != slash else { return false }
    return !target.split(separator: slash).contains { $0.elementsEqual("..".utf8) }
}
