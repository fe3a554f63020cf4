#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An immutable, contiguous run of bytes that stays alive while any view of it exists.
///
/// A buffer either owns heap memory (64-byte aligned) or wraps memory owned by someone else,
/// such as a read-only memory map, which it releases when the last reference goes away.
/// The bytes never change after creation, which is what makes sharing it across threads safe.
public final class ByteBuffer: @unchecked Sendable {
    /// Start of the bytes; nil only when `count` is 0.
    public let baseAddress: UnsafeRawPointer?
    /// Number of bytes.
    public let count: Int
    private let release: (@Sendable () -> Void)?
    /// True when the bytes are a read-only memory map of a file (pages can be dropped and come
    /// back from the file).
    public let isFileMapping: Bool
    /// An open descriptor of the mapped file, whose byte 0 is the buffer's first byte, when the
    /// mapping keeps one: writers then copy these bytes file to file in the kernel
    /// (`copy_file_range`) instead of faulting the pages in. Owned by `release`.
    public let fileDescriptor: Int32?

    /// Wraps memory owned elsewhere; `release` runs once, when the buffer is freed (and closes
    /// `fileDescriptor`, if it is given).
    public init(wrapping base: UnsafeRawPointer?, count: Int, fileMapping: Bool = false, fileDescriptor: Int32? = nil,
                release: (@Sendable () -> Void)?) {
        self.baseAddress = count == 0 ? nil : base
        self.count = count
        self.isFileMapping = fileMapping
        self.fileDescriptor = fileMapping ? fileDescriptor : nil
        self.release = release
    }

    /// Tells the kernel that the mapped pages of `range` are not needed for now: resident memory
    /// drops, and a later read faults them back in from the file. A no-op for heap buffers.
    public func dropPages(_ range: Range<Int>) {
        guard isFileMapping, let base = baseAddress, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        // Only whole pages inside the range.
        let start = (Int(bitPattern: base) + range.lowerBound + page - 1) / page * page
        let end = (Int(bitPattern: base) + range.upperBound) / page * page
        guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(p, end - start, MADV_DONTNEED)
    }

    /// Allocates `count` bytes (64-byte aligned), lets `initializer` fill them, then freezes them.
    public static func build(
        count: Int, _ initializer: (UnsafeMutableRawBufferPointer) throws -> Void
    ) rethrows -> ByteBuffer {
        guard count > 0 else {
            try initializer(UnsafeMutableRawBufferPointer(start: nil, count: 0))
            return ByteBuffer(wrapping: nil, count: 0, release: nil)
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        do {
            try initializer(UnsafeMutableRawBufferPointer(start: raw, count: count))
        } catch {
            raw.deallocate()
            throw error
        }
        let address = UInt(bitPattern: raw)
        return ByteBuffer(wrapping: UnsafeRawPointer(raw), count: count) {
            UnsafeMutableRawPointer(bitPattern: address)?.deallocate()
        }
    }

    /// Copies `bytes` into a new buffer.
    public static func copying(_ bytes: UnsafeRawBufferPointer) -> ByteBuffer {
        build(count: bytes.count) { dst in
            if let src = bytes.baseAddress, let d = dst.baseAddress { d.copyMemory(from: src, byteCount: bytes.count) }
        }
    }

    deinit {
        release?()
    }

    /// The bytes as a buffer pointer, valid while this object is alive.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: baseAddress, count: count) }

    /// Calls `body` with the bytes, keeping this buffer (and its mapping) alive until it returns:
    /// use this when nothing else holds the buffer, e.g. `try InputFile(path: p).buffer`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(self) { () throws(E) -> R in try body(bytes) }
    }
}

/// A zero-copy view of some bytes of a `ByteBuffer`: the storage of one tensor.
public struct TensorData: Sendable {
    /// The buffer that owns the bytes.
    public let buffer: ByteBuffer
    /// Offset of the view in `buffer`.
    public let offset: Int
    /// Length of the view in bytes.
    public let count: Int
    /// The CRC-32 of these bytes when a reader has already verified it, so writers can reuse it.
    public let knownCRC32: UInt32?

    /// A view of `count` bytes of `buffer` from `offset`; returns nil when out of range.
    public init?(buffer: ByteBuffer, offset: Int, count: Int, knownCRC32: UInt32? = nil) {
        guard offset >= 0, count >= 0, offset <= buffer.count, count <= buffer.count - offset else { return nil }
        self.buffer = buffer
        self.offset = offset
        self.count = count
        self.knownCRC32 = knownCRC32
    }

    /// The whole of `buffer`.
    public init(_ buffer: ByteBuffer) {
        self.buffer = buffer
        self.offset = 0
        self.count = buffer.count
        self.knownCRC32 = nil
    }

    /// Copies a byte array.
    public init(bytes: [UInt8]) {
        self.init(bytes.withUnsafeBytes { ByteBuffer.copying($0) })
    }

    /// Copies the raw bytes of an array of trivial values (native little-endian layout).
    public init<T: BitwiseCopyable>(values: [T]) {
        self.init(values.withUnsafeBytes { ByteBuffer.copying($0) })
    }

    /// Calls `body` with the bytes; the pointer must not escape.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let all = buffer.bytes
        guard count > 0, let base = all.baseAddress else {
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return try withExtendedLifetime(buffer) {
            try body(UnsafeRawBufferPointer(start: base + offset, count: count))
        }
    }

    /// A copy of the bytes.
    public var byteArray: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Drops the resident pages of these bytes when they are a file mapping (see
    /// `ByteBuffer.dropPages`); they stay readable.
    public func dropPages() { buffer.dropPages(offset..<(offset + count)) }
}
