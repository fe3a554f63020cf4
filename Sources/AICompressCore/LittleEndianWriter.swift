/// Little-endian fields appended to a byte array: the one writer behind the checkpoint index and
/// the global pruning statistics and threshold files (each format adds its own length-checked
/// fields in an extension).
public struct LittleEndianWriter: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8] = []

    /// An empty writer.
    public init() {}

    /// Appends one byte.
    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    /// Appends 4 bytes, least significant first.
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    /// Appends 8 bytes, least significant first.
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    /// Appends a two's-complement 64-bit integer.
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    /// Appends a count as 64 bits; negative values are written as 0.
    public mutating func int(_ v: Int) { u64(UInt64(clamping: v)) }
    /// Appends the IEEE 754 bits of a float.
    public mutating func f32(_ v: Float) { u32(v.bitPattern) }
}
