import AICompressCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An unlinked scratch file beside an output, where a writer whose format needs every size
/// before its first byte parks the tensors it was handed, so that they need not stay in memory
/// until `finish`. It is removed from its folder as soon as it is created (nothing is left
/// behind by a crash); `map` then gives the bytes back as a file mapping that keeps its
/// descriptor, so writing them out is a kernel copy too.
final class SpillFile {
    private let fd: Int32
    private let label: String
    private var pending: [UInt8] = []
    /// Bytes in the file so far.
    private(set) var size = 0
    private static let bufferSize = 1 << 20
    /// Every tensor starts on this boundary, so a mapped view is as aligned as a heap buffer.
    static let alignment = 64

    /// Creates the scratch file in the folder of `path` (`$TMPDIR` for standard output), on the
    /// output's file system, so that the kernel can copy it into the output.
    /// - Throws: `FileError.cannotCreate`.
    init(beside path: String) throws(FileError) {
        let dir: String
        let base: String
        if path == "-" {
            dir = (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp") + "/"
            base = "aicompress-stdout"
        } else {
            let slash = path.lastIndex(of: "/")
            dir = slash.map { String(path[...$0]) } ?? ""
            base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        }
        label = path
        var attempt = 0
        while true {
            let candidate = "\(dir).\(base).spill-\(getpid())-\(attempt)"
            let f = open(candidate, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if f >= 0 {
                unlink(candidate)
                fd = f
                break
            }
            let e = errno
            guard e == EEXIST, attempt < 1000 else { throw .cannotCreate(path: candidate, errno: e) }
            attempt += 1
        }
        pending.reserveCapacity(SpillFile.bufferSize)
    }

    deinit { close(fd) }

    /// Appends `data` at the next aligned offset and returns that offset.
    /// - Throws: `FileError.writeFailed`.
    func append(_ data: TensorData) throws(FileError) -> Int {
        let start = (size + SpillFile.alignment - 1) / SpillFile.alignment * SpillFile.alignment
        if start > size { pending.append(contentsOf: repeatElement(0, count: start - size)) }
        size = start + data.count
        let failure: FileError? = data.withUnsafeBytes { bytes in
            do throws(FileError) {
                if pending.count + bytes.count <= SpillFile.bufferSize {
                    pending.append(contentsOf: bytes)
                } else {
                    try flush()
                    try writeAll(bytes)
                }
            } catch { return error }
            return nil
        }
        if let failure { throw failure }
        return start
    }

    /// The whole file, mapped read-only; the mapping keeps a descriptor of its own.
    /// - Throws: `FileError`.
    func map() throws(FileError) -> ByteBuffer {
        try flush()
        return try InputFile.map(fd: fd, size: size, path: label)
    }

    private func flush() throws(FileError) { try OutputFile.drain(&pending, to: fd, path: label) }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
        try OutputFile.writeAll(bytes, to: fd, path: label)
    }
}
