import AICompressCore

/// Everything that can be wrong with a checkpoint file, one case per check of spec §8.
/// Offsets are absolute byte offsets in the file.
public enum CheckpointError: Error, Equatable, Sendable {
    case truncated(fileSize: Int)
    case badMagic
    case badEndMagic
    case unsupportedVersion(major: UInt16, minor: UInt16)
    case unknownFlags(UInt32)
    case nonZeroReserved(offset: Int)
    case indexTooLarge(length: UInt64)
    case indexOutOfRange(offset: UInt64, length: UInt64, fileSize: Int)
    case indexChecksumMismatch(stored: UInt32, computed: UInt32)
    case indexTruncated(offset: Int, what: String)
    case indexTrailingBytes(offset: Int, count: Int)
    case limitExceeded(what: String, value: UInt64, limit: UInt64, offset: Int)
    case invalidUTF8(what: String, offset: Int)
    case emptyName(what: String, offset: Int)
    case duplicateTensorName(String, offset: Int)
    case metadataKeyOrder(String, offset: Int)
    case unknownDType(tensor: String, code: UInt8, offset: Int)
    case unknownEncoding(tensor: String, code: UInt8, offset: Int)
    case invalidEncodingParams(tensor: String, offset: Int)
    case shapeOverflow(tensor: String, dims: [UInt64], offset: Int)
    case dataLengthMismatch(tensor: String, expected: Int, actual: UInt64, offset: Int)
    case tensorMisaligned(tensor: String, offset: UInt64)
    case tensorOverlap(tensor: String, offset: UInt64, previousEnd: Int)
    case tensorGap(tensor: String, offset: UInt64, expected: Int)
    case tensorOutOfRange(tensor: String, offset: UInt64, length: UInt64, dataEnd: Int)
    case dataSectionGap(lastEnd: Int, indexOffset: Int)
    case nonZeroPadding(offset: Int)
    case checksumMismatch(tensor: String, offset: Int, stored: UInt32, computed: UInt32)
    case invalidGraph(reason: String, offset: Int)
    /// A sparse tensor's bitmask does not have exactly as many bits set as it stores values.
    case sparseMaskMismatch(tensor: String, offset: Int)
    /// The writer refuses a model the format cannot represent (a name too long, …).
    case unrepresentable(String)
}

extension CheckpointError: CustomStringConvertible {
    public var description: String {
        func hex(_ v: UInt32) -> String { "0x" + Provenance.hex(v) }
        switch self {
        case .truncated(let size):
            return "truncated: \(size) bytes, a checkpoint has at least \(CheckpointLayout.headerSize + CheckpointLayout.footerSize)"
        case .badMagic: return "not an aicompress checkpoint (bad magic at offset 0)"
        case .badEndMagic:
            return "bad end magic in the footer: the file is truncated or has trailing bytes"
        case .unsupportedVersion(let major, let minor):
            return "unsupported format version \(major).\(minor) at offset 8 (this tool reads 1.x)"
        case .unknownFlags(let f): return "unknown header flags \(hex(f)) at offset 12"
        case .nonZeroReserved(let off): return "reserved byte at offset \(off) is not zero"
        case .indexTooLarge(let len):
            return "index length \(len) exceeds the limit of \(CheckpointLayout.maxIndexBytes) bytes"
        case .indexOutOfRange(let off, let len, let size):
            return "index at offset \(off) with length \(len) does not end at the footer of a \(size)-byte file"
        case .indexChecksumMismatch(let s, let c):
            return "index CRC-32 mismatch: stored \(hex(s)), computed \(hex(c))"
        case .indexTruncated(let off, let what): return "index ends early at offset \(off) while reading \(what)"
        case .indexTrailingBytes(let off, let n): return "\(n) unexpected bytes at the end of the index, offset \(off)"
        case .limitExceeded(let what, let v, let limit, let off):
            return "\(what) is \(v), over the limit of \(limit), at offset \(off)"
        case .invalidUTF8(let what, let off): return "\(what) is not valid UTF-8, at offset \(off)"
        case .emptyName(let what, let off): return "empty \(what) at offset \(off)"
        case .duplicateTensorName(let n, let off): return "tensor '\(n)': duplicate name, at offset \(off)"
        case .metadataKeyOrder(let k, let off):
            return "metadata key '\(k)' at offset \(off) is a duplicate or out of order (keys must be strictly increasing)"
        case .unknownDType(let t, let c, let off): return "tensor '\(t)': unknown dtype code \(c) at offset \(off)"
        case .unknownEncoding(let t, let c, let off):
            return "tensor '\(t)': unknown encoding \(c) at offset \(off) (written by a newer aicompress?)"
        case .invalidEncodingParams(let t, let off): return "tensor '\(t)': invalid encoding parameters at offset \(off)"
        case .shapeOverflow(let t, let dims, let off):
            return "tensor '\(t)': shape \(dims) at offset \(off) has more elements or bytes than fit in 64 bits"
        case .dataLengthMismatch(let t, let e, let a, let off):
            return "tensor '\(t)': data length \(a) at offset \(off), but its dtype and shape need \(e) bytes"
        case .tensorMisaligned(let t, let off): return "tensor '\(t)': data offset \(off) is not a multiple of \(CheckpointLayout.alignment)"
        case .tensorOverlap(let t, let off, let end):
            return "tensor '\(t)': data at offset \(off) overlaps the previous tensor, which ends at \(end)"
        case .tensorGap(let t, let off, let e):
            return "tensor '\(t)': data at offset \(off), expected at \(e) (unaccounted bytes before it)"
        case .tensorOutOfRange(let t, let off, let len, let end):
            return "tensor '\(t)': data at offset \(off) with length \(len) runs past the data section, which ends at \(end)"
        case .dataSectionGap(let last, let idx):
            return "unaccounted bytes between the last tensor (ends at \(last)) and the index at offset \(idx)"
        case .nonZeroPadding(let off): return "padding byte at offset \(off) is not zero"
        case .checksumMismatch(let t, let off, let s, let c):
            return "tensor '\(t)': CRC-32 mismatch for data at offset \(off): stored \(hex(s)), computed \(hex(c))"
        case .invalidGraph(let reason, let off): return "graph: \(reason) at offset \(off)"
        case .sparseMaskMismatch(let t, let off):
            return "tensor '\(t)': the sparse bitmask at offset \(off) does not match its count of stored values"
        case .unrepresentable(let what): return "cannot be written as a checkpoint: \(what)"
        }
    }
}
extension CheckpointError: FormatError {}
