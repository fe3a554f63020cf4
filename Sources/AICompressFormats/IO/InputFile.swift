import AICompressCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of an input file, memory-mapped read-only.
///
/// `-` reads standard input: a regular file redirected to it is mapped directly; a pipe is first
/// spooled to an unlinked temporary file (in `$TMPDIR`, default `/tmp`) and that is mapped, so
/// even a model arriving through a pipe is never held in anonymous memory.
public struct InputFile: Sendable {
    /// The path as given (`-` for standard input).
    public let path: String
    /// The whole file.
    public let buffer: ByteBuffer
    /// Device and inode of the file opened, to recognise an output that would replace it.
    public let identity: FileIdentity?

    /// The file's size in bytes.
    public var size: Int { buffer.count }

    /// Maps `path` (or standard input for `-`).
    /// - Throws: `FileError`.
    public init(path: String) throws(FileError) {
        self.path = path
        if path == "-" {
            var st = stat()
            if fstat(0, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG {
                buffer = try InputFile.map(fd: 0, size: Int(st.st_size), path: path)
                identity = FileIdentity(st)
            } else {
                buffer = try InputFile.spoolAndMap(fd: 0, path: path)
                identity = nil
            }
            return
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .readFailed(path: path, errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            // A FIFO or character device (e.g. /dev/stdin, <(...)) is read like a pipe.
            if (st.st_mode & S_IFMT) == S_IFIFO || (st.st_mode & S_IFMT) == S_IFCHR {
                buffer = try InputFile.spoolAndMap(fd: fd, path: path)
                identity = nil
                return
            }
            throw .notARegularFile(path: path)
        }
        buffer = try InputFile.map(fd: fd, size: Int(st.st_size), path: path)
        identity = FileIdentity(st)
    }

    static func map(fd: Int32, size: Int, path: String) throws(FileError) -> ByteBuffer {
        guard size > 0 else { return ByteBuffer(wrapping: nil, count: 0, release: nil) }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw .cannotMap(path: path, errno: errno) }
        let address = UInt(bitPattern: p)
        // A descriptor of its own stays open with the mapping, so that writers can copy the
        // bytes file to file in the kernel (`OutputFile.write(_: TensorData)`).
        let kept = dup(fd)
        return ByteBuffer(wrapping: UnsafeRawPointer(p), count: size, fileMapping: true,
                          fileDescriptor: kept >= 0 ? kept : nil) {
            munmap(UnsafeMutableRawPointer(bitPattern: address), size)
            if kept >= 0 { close(kept) }
        }
    }

    /// Copies a stream to an unlinked temporary file and maps that.
    static func spoolAndMap(fd: Int32, path: String) throws(FileError) -> ByteBuffer {
        let dir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((dir + "/aicompress-stdin-XXXXXX").utf8CString)
        let tmp = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard tmp >= 0 else { throw .cannotCreate(path: dir, errno: errno) }
        defer { close(tmp) }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        let chunk = 1 << 20
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { scratch.deallocate() }
        var total = 0
        while true {
            let n = read(fd, scratch, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw .readFailed(path: path, errno: errno)
            }
            if n == 0 { break }
            var done = 0
            while done < n {
                let w = write(tmp, scratch + done, n - done)
                if w < 0 {
                    if errno == EINTR { continue }
                    throw .writeFailed(path: dir, errno: errno)
                }
                done += w
            }
            total += n
        }
        return try map(fd: tmp, size: total, path: path)
    }
}

/// Device and inode numbers of a file.
public struct FileIdentity: Sendable, Equatable {
    public let device: UInt64
    public let inode: UInt64
    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }

    /// The identity of the file at `path`, or nil when it does not exist.
    public init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        self.init(st)
    }
}
