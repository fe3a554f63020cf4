/// A bounds-checked little-endian reader over the bytes of a GGUF file: every read first
/// checks that the bytes are there and throws `GGUFError.truncated` (naming what was being
/// read and where) when they are not.
struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func need(_ n: UInt64, _ what: @autoclosure () -> String) throws(GGUFError) {
        guard n <= UInt64(remaining) else { throw .truncated(what: what(), offset: offset, needed: n) }
    }

    mutating func u8(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt8 {
        try need(1, what())
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u32(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt32 {
        try need(4, what())
        defer { offset += 4 }
        return bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian
    }

    mutating func u64(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt64 {
        try need(8, what())
        defer { offset += 8 }
        return bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian
    }

    /// The next `n` bytes, as a view (checked first).
    mutating func slice(_ n: UInt64, _ what: @autoclosure () -> String) throws(GGUFError) -> UnsafeRawBufferPointer {
        try need(n, what())
        let count = Int(n)
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    /// A GGUF string: u64 length, then bytes; the length is checked against the file first.
    mutating func string(_ what: @autoclosure () -> String) throws(GGUFError) -> [UInt8] {
        let at = offset
        let n = try u64(what() + " length")
        guard n <= UInt64(remaining) else { throw .truncated(what: what(), offset: at + 8, needed: n) }
        return Array(try slice(n, what()))
    }

    /// Moves to `target`, which must be within the file.
    mutating func seek(_ target: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        guard target >= offset else { return }
        try need(UInt64(target - offset), what())
        offset = target
    }
}
