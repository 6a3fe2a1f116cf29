/// Which files a guest may open: regular files, directories and links, by their WASI file
/// type. Anything else in a mount (a FIFO above all, but also a device or a socket) is refused
/// with `ENOTSUP` before it is opened: a FIFO's `open` blocks the run's thread until a writer
/// comes, outside every deadline, since neither engine's WASI opens without blocking. A guest
/// cannot make such a file; someone with access to the host directory must have put it there.
package enum OpenableFiles {
    /// WASI's `filetype`: directory 3, regular file 4, symbolic link 7.
    package static func allows(fileType: UInt8) -> Bool { fileType == 3 || fileType == 4 || fileType == 7 }

    /// Where a `filestat` keeps its `filetype` byte (after `dev` and `ino`), and its size.
    package static let fileTypeOffset = 16
    package static let filestatSize = 64
    /// WASI's `ENOTSUP`.
    package static let refusal: Int32 = 58
}
