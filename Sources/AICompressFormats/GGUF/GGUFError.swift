import AICompressCore

/// Everything that can be wrong with a GGUF file, or with what a caller asks the writer to
/// write. Offsets are byte offsets in the file.
public enum GGUFError: Error, Equatable, Sendable {
    /// The file ends inside something (`what`) that needs `needed` bytes at `offset`.
    case truncated(what: String, offset: Int, needed: UInt64)
    case badMagic(UInt32)
    case unsupportedVersion(UInt32)
    /// A count (of tensors, metadata pairs or array elements) that the remaining bytes cannot hold.
    case countExceedsFile(what: String, count: UInt64, offset: Int, remaining: Int)
    case emptyKey(index: Int, offset: Int)
    case keyNotUTF8(offset: Int)
    case duplicateKey(String, offset: Int)
    case invalidValueType(key: String, type: UInt32, offset: Int)
    case invalidBool(key: String, value: UInt8, offset: Int)
    case arrayTooDeep(key: String, offset: Int)
    case arrayTooLong(key: String, count: UInt64, offset: Int)
    case alignmentNotU32(GGUFValueType)
    case invalidAlignment(UInt32)
    case emptyTensorName(index: Int, offset: Int)
    case tensorNameNotUTF8(offset: Int)
    case tensorNameTooLong(String, length: Int, offset: Int)
    case duplicateTensorName(String, offset: Int)
    case tooManyDimensions(tensor: String, count: UInt32, offset: Int)
    case dimensionTooLarge(tensor: String, dimension: UInt64, offset: Int)
    /// The element count or the byte size does not fit in a signed 64-bit integer.
    case shapeOverflow(tensor: String, dims: [UInt64])
    case tensorType(tensor: String, GGMLError, offset: Int)
    case rowNotWholeBlocks(tensor: String, rowLength: UInt64, type: GGMLType)
    case misalignedOffset(tensor: String, offset: UInt64, alignment: Int)
    case tensorPastEnd(tensor: String, begin: UInt64, end: UInt64, fileSize: Int)
    case tensorsOverlap(tensor: String, other: String, begin: UInt64, otherEnd: UInt64)
    // Writer.
    /// The tensor bytes handed to the writer are not what its type and shape need.
    case dataLengthMismatch(tensor: String, expected: Int, actual: Int)
    /// The writer was handed tensors out of its declared order, or too few, or too many.
    case writeOrder(String)
    /// The writer cannot express the value or tensor.
    case unrepresentable(String)
}

extension GGUFError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .truncated(let w, let o, let n): return "truncated: \(w) at offset \(o) needs \(n) bytes past the end of the file"
        case .badMagic(let m): return "not a GGUF file: magic 0x\(String(m, radix: 16)) at offset 0, expected 'GGUF'"
        case .unsupportedVersion(let v):
            if v == 1 { return "GGUF version 1 at offset 4 is not supported (only 2 and 3)" }
            if v & 0xFFFF == 0 { return "GGUF version \(v) at offset 4: a big-endian file? (only little-endian versions 2 and 3)" }
            return "GGUF version \(v) at offset 4 is not supported (only 2 and 3)"
        case .countExceedsFile(let w, let c, let o, let r): return "\(w) count \(c) at offset \(o) cannot fit in the \(r) remaining bytes"
        case .emptyKey(let i, let o): return "metadata key \(i) at offset \(o) is empty"
        case .keyNotUTF8(let o): return "metadata key at offset \(o) is not valid UTF-8"
        case .duplicateKey(let k, let o): return "metadata key '\(k)' at offset \(o) appears twice"
        case .invalidValueType(let k, let t, let o): return "metadata key '\(k)': value type \(t) at offset \(o) is not a GGUF type"
        case .invalidBool(let k, let v, let o): return "metadata key '\(k)': bool at offset \(o) is \(v), not 0 or 1"
        case .arrayTooDeep(let k, let o): return "metadata key '\(k)': arrays nested deeper than \(GGUFLimits.maxArrayDepth) at offset \(o)"
        case .arrayTooLong(let k, let c, let o): return "metadata key '\(k)': array of \(c) elements at offset \(o) exceeds the limit"
        case .alignmentNotU32(let t): return "general.alignment has type \(t), not uint32"
        case .invalidAlignment(let a): return "general.alignment \(a) is not a non-zero multiple of 8 (and the writer writes only powers of two)"
        case .emptyTensorName(let i, let o): return "tensor \(i) at offset \(o) has an empty name"
        case .tensorNameNotUTF8(let o): return "tensor name at offset \(o) is not valid UTF-8"
        case .tensorNameTooLong(let n, let l, let o): return "tensor '\(n)' at offset \(o): name of \(l) bytes, at most \(GGUFLimits.maxTensorNameBytes)"
        case .duplicateTensorName(let n, let o): return "tensor '\(n)' at offset \(o) appears twice"
        case .tooManyDimensions(let n, let c, let o): return "tensor '\(n)' at offset \(o): \(c) dimensions, at most \(GGUFLimits.maxDimensions)"
        case .dimensionTooLarge(let n, let d, let o): return "tensor '\(n)': dimension \(d) at offset \(o) exceeds 2^63-1"
        case .shapeOverflow(let n, let d): return "tensor '\(n)': dims \(d) have more elements or bytes than fit in 64 bits"
        case .tensorType(let n, let e, let o): return "tensor '\(n)' at offset \(o): \(e)"
        case .rowNotWholeBlocks(let n, let r, let t): return "tensor '\(n)': row of \(r) values is not a whole number of \(t) blocks of \(t.blockSize)"
        case .misalignedOffset(let n, let o, let a): return "tensor '\(n)': data offset \(o) is not a multiple of the alignment \(a)"
        case .tensorPastEnd(let n, let b, let e, let s): return "tensor '\(n)': data [\(b), \(e)) runs past the end of a \(s)-byte file"
        case .tensorsOverlap(let n, let o, let b, let e): return "tensor '\(n)': data begins at \(b), inside tensor '\(o)' (ends at \(e))"
        case .dataLengthMismatch(let n, let e, let a): return "tensor '\(n)': \(a) bytes given, its type and shape need \(e)"
        case .writeOrder(let r): return "GGUF writer: \(r)"
        case .unrepresentable(let r): return "cannot be written as GGUF: \(r)"
        }
    }
}

/// The reader's named limits (beyond "fits in the file").
public enum GGUFLimits {
    /// ggml `GGML_MAX_DIMS`.
    public static let maxDimensions: UInt32 = 4
    /// ggml `GGML_MAX_NAME` is 64 including the NUL terminator.
    public static let maxTensorNameBytes = 63
    /// Arrays of arrays deeper than this are refused (llama.cpp reads no nested arrays at all).
    public static let maxArrayDepth = 8
    /// Elements of one array (gguf.cpp `GGUF_MAX_ARRAY_ELEMENTS`).
    public static let maxArrayElements: UInt64 = 1 << 30
    /// The alignment when `general.alignment` is absent.
    public static let defaultAlignment = 32
}
