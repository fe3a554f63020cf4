/// Constants and limits of the checkpoint format (spec/checkpoint-format.md §3 and §7).
public enum CheckpointLayout {
    /// `\x89AICKPT\n`
    public static let magic: [UInt8] = [0x89, 0x41, 0x49, 0x43, 0x4B, 0x50, 0x54, 0x0A]
    /// `AICKEND\n`
    public static let endMagic: [UInt8] = [0x41, 0x49, 0x43, 0x4B, 0x45, 0x4E, 0x44, 0x0A]
    /// The major version this tool writes and reads.
    public static let majorVersion: UInt16 = 1
    /// The minor version this tool writes.
    public static let minorVersion: UInt16 = 2
    /// Bytes of the file header (§3.1).
    public static let headerSize = 64
    /// Bytes of the footer (§3.3).
    public static let footerSize = 32

    // Header fields (§3.1), offsets from the start of the file, each field after the one before:
    // the magic, u16 major version, u16 minor version, u32 flags (must be 0), then reserved
    // (zero) bytes to the end of the header.
    static let majorVersionOffset = magic.count
    static let minorVersionOffset = majorVersionOffset + MemoryLayout<UInt16>.size
    static let flagsOffset = minorVersionOffset + MemoryLayout<UInt16>.size
    static let headerReservedOffset = flagsOffset + MemoryLayout<UInt32>.size

    // Footer fields (§3.3), offsets from the start of the footer, likewise: u64 offset of the
    // index, u64 length of the index, u32 CRC-32 of the index, u32 reserved (zero), and the end
    // magic to the end of the file (`footerSize` in all).
    static let footerIndexOffsetOffset = 0
    static let footerIndexLengthOffset = footerIndexOffsetOffset + MemoryLayout<UInt64>.size
    static let footerIndexCRCOffset = footerIndexLengthOffset + MemoryLayout<UInt64>.size
    static let footerReservedOffset = footerIndexCRCOffset + MemoryLayout<UInt32>.size
    static let footerEndMagicOffset = footerReservedOffset + MemoryLayout<UInt32>.size
    /// Alignment of every tensor payload and of the index.
    public static let alignment = 64

    /// MAX_INDEX_BYTES: the largest index.
    public static let maxIndexBytes = 256 << 20
    /// MAX_TENSORS.
    public static let maxTensors = 1 << 20
    /// MAX_RANK: dimensions per tensor.
    public static let maxRank = 32
    /// MAX_DIM: the largest dimension.
    public static let maxDim: UInt64 = 1 << 62
    /// MAX_NAME_BYTES: tensor names and metadata keys (UTF-8).
    public static let maxNameBytes = 4096
    /// MAX_STRING_BYTES: metadata values and graph strings.
    public static let maxStringBytes = 16 << 20
    /// MAX_METADATA_ENTRIES.
    public static let maxMetadataEntries = 65_536
    /// MAX_ENCODING_PARAM_BYTES.
    public static let maxEncodingParamBytes = 1 << 20
    /// MAX_GRAPH_DEPTH: subgraphs in attributes.
    public static let maxGraphDepth = 8
    /// MAX_TYPE_DEPTH: nested value types.
    public static let maxTypeDepth = 8

    /// The smallest multiple of the alignment that is >= `x`, or nil on overflow.
    static func align(_ x: Int) -> Int? {
        let (sum, overflow) = x.addingReportingOverflow(alignment - 1)
        return overflow ? nil : sum & ~(alignment - 1)
    }
}
