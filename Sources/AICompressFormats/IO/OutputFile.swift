import AICompressCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a writer sends bytes: a file written atomically, standard output, or memory.
public protocol ByteSink {
    /// Appends bytes.
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Appends a tensor's bytes; a file sink copies mapped input file to file in the kernel.
    mutating func write(_ data: TensorData) throws
}

extension ByteSink {
    /// Appends a tensor's bytes through `write(_: UnsafeRawBufferPointer)`.
    public mutating func write(_ data: TensorData) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Appends a byte array.
    public mutating func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// A sink that collects bytes in memory (for tests and small outputs).
public struct MemorySink: ByteSink {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public mutating func write(_ b: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: b) }
}

/// An output file written atomically, or standard output for `-`.
///
/// A file is written to a temporary file in the target's folder and, on `commit()`, renamed
/// over the target (after an `fsync` when `durable`): readers see the old file or the complete
/// new one, never a partial one. Without `commit()` (an error, a thrown exception) the temporary file is removed.
/// Standard output is written sequentially and flushed on `commit()`.
public final class OutputFile: ByteSink {
    /// The target path as given.
    public let path: String
    private let fd: Int32
    private let temporaryPath: String?
    private var pending: [UInt8] = []
    private var finished = false
    /// Bytes written so far.
    public private(set) var bytesWritten = 0
    /// Called with `bytesWritten` after each write (progress displays).
    public var onWrite: ((Int) -> Void)?
    private static let bufferSize = 1 << 20

    /// Whether `commit()` flushes the file to the storage device before renaming it.
    public let durable: Bool

    /// Opens `path` for writing (`-` is standard output).
    /// - Parameter durable: also `fsync` before the rename, so the new file survives a power
    ///   loss (costs the device's write-back time; without it the rename is still atomic for
    ///   every process, and a crash of aicompress itself never leaves a partial file).
    /// - Throws: `FileError.cannotCreate`.
    public init(path: String, durable: Bool = false) throws(FileError) {
        self.path = path
        self.durable = durable
        pending.reserveCapacity(OutputFile.bufferSize)
        if path == "-" {
            fd = 1
            temporaryPath = nil
            return
        }
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[...$0]) } ?? ""
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var attempt = 0
        while true {
            let candidate = "\(dir).\(base).tmp-\(getpid())-\(attempt)"
            let f = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if f >= 0 {
                fd = f
                temporaryPath = candidate
                return
            }
            let e = errno
            guard e == EEXIST, attempt < 1000 else { throw .cannotCreate(path: path, errno: e) }
            attempt += 1
        }
    }

    deinit { if !finished { abort() } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        bytesWritten += bytes.count
        onWrite?(bytesWritten)
        if pending.count + bytes.count <= OutputFile.bufferSize {
            pending.append(contentsOf: bytes)
            return
        }
        try flush()
        if bytes.count >= OutputFile.bufferSize / 2 {
            try writeAll(bytes)
        } else {
            pending.append(contentsOf: bytes)
        }
    }

    /// Appends a tensor's bytes. A large view of a mapped file that keeps its descriptor is
    /// copied by the kernel (`sendfile`, file to file): its pages are never faulted into this
    /// process, so resident memory does not grow with the model. Anything else, or a target
    /// that cannot take it (a pipe on an old kernel), is written from memory, and mapped
    /// pages read that way are dropped again once written.
    public func write(_ data: TensorData) throws {
        guard data.count > 0 else { return }
        if data.count >= OutputFile.bufferSize / 2, let source = data.buffer.fileDescriptor {
            try flush()
            if try kernelCopy(from: source, offset: data.offset, count: data.count) {
                bytesWritten += data.count
                onWrite?(bytesWritten)
                return
            }
        }
        try data.withUnsafeBytes { try write($0) }
        data.dropPages()
    }

    /// Copies `count` bytes from `source` at `offset` to the end of the output; false (with
    /// nothing written) when the kernel cannot copy between these two files.
    private func kernelCopy(from source: Int32, offset: Int, count: Int) throws(FileError) -> Bool {
        #if canImport(Glibc)
        var position = off_t(offset)
        var done = 0
        while done < count {
            // sendfile moves at most about 2 GiB per call.
            let n = sendfile(fd, source, &position, min(count - done, 1 << 30))
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                if done == 0 && (e == EINVAL || e == ENOSYS || e == EOPNOTSUPP || e == EXDEV) { return false }
                throw .writeFailed(path: path, errno: e)
            }
            // A source shorter than its mapping (truncated under us) must not pass silently.
            guard n > 0 else { throw .writeFailed(path: path, errno: EIO) }
            done += n
        }
        return true
        #else
        return false
        #endif
    }

    private func flush() throws(FileError) {
        try OutputFile.drain(&pending, to: fd, path: path)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
        try OutputFile.writeAll(bytes, to: fd, path: path)
    }

    /// Writes and empties `pending` (shared with `SpillFile`).
    static func drain(_ pending: inout [UInt8], to fd: Int32, path: String) throws(FileError) {
        guard !pending.isEmpty else { return }
        let failure: FileError? = pending.withUnsafeBytes { b in
            do throws(FileError) { try writeAll(b, to: fd, path: path) } catch { return error }
            return nil
        }
        if let failure { throw failure }
        pending.removeAll(keepingCapacity: true)
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and interruptions.
    static func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32, path: String) throws(FileError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .writeFailed(path: path, errno: errno)
            }
            done += n
        }
    }

    /// Finishes the output: flushes, syncs and renames a file into place; flushes standard output.
    /// - Throws: `FileError`; the temporary file is removed on failure.
    public func commit() throws {
        guard !finished else { return }
        do {
            try flush()
            guard let tmp = temporaryPath else {
                finished = true
                return
            }
            if durable { guard fsync(fd) == 0 else { throw FileError.writeFailed(path: path, errno: errno) } }
            guard close(fd) == 0 else {
                let e = errno
                unlink(tmp)
                finished = true
                throw FileError.writeFailed(path: path, errno: e)
            }
            finished = true
            guard rename(tmp, path) == 0 else {
                let e = errno
                unlink(tmp)
                throw FileError.cannotRename(from: tmp, to: path, errno: e)
            }
        } catch {
            abort()
            throw error
        }
    }

    /// Abandons the output: a temporary file is closed and removed; the target is untouched.
    public func abort() {
        guard !finished else { return }
        finished = true
        if let tmp = temporaryPath {
            close(fd)
            unlink(tmp)
        }
    }
}
