import AICompressCore

/// Everything that can be wrong with a safetensors file or a sharded set. Offsets are byte
/// offsets in the file.
public enum SafetensorsError: Error, Equatable, Sendable {
    case tooShort(fileSize: Int)
    case headerTooLarge(length: UInt64)
    case headerPastEnd(length: UInt64, fileSize: Int)
    case headerNotUTF8
    case invalidJSON(JSONError)
    case headerNotAnObject
    case invalidMetadata(String)
    case invalidEntry(tensor: String, reason: String)
    case unknownDType(tensor: String, dtype: String)
    case unsupportedDType(tensor: String, dtype: String)
    case shapeOverflow(tensor: String, shape: [Int])
    case lengthMismatch(tensor: String, expected: Int, actual: Int)
    case offsetsInvalid(tensor: String, begin: Int, end: Int)
    /// The tensors, sorted by offset, do not cover the data buffer exactly.
    case offsetsGap(tensor: String, begin: Int, expected: Int)
    case offsetsOverlap(tensor: String, begin: Int, previousEnd: Int)
    case trailingBytes(dataEnd: Int, bufferSize: Int)
    // Sharded sets.
    case invalidIndex(String)
    case shardMissingTensor(shard: String, tensor: String)
    case shardUnexpectedTensor(shard: String, tensor: String)
    case shardEscapes(String)
    case duplicateTensorAcrossShards(String)
    /// The writer cannot express the model (e.g. 4-bit tensors have no safetensors dtype).
    case unrepresentable(String)
}

extension SafetensorsError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .tooShort(let n): return "truncated: \(n) bytes, a safetensors file has at least 8"
        case .headerTooLarge(let n): return "header length \(n) at offset 0 exceeds the limit of \(SafetensorsLayout.maxHeaderBytes) bytes"
        case .headerPastEnd(let n, let size): return "header length \(n) at offset 0 runs past the end of a \(size)-byte file"
        case .headerNotUTF8: return "header is not valid UTF-8"
        case .invalidJSON(let e): return "header: \(e) (offset \(e.offset + 8) in the file)"
        case .headerNotAnObject: return "header is not a JSON object"
        case .invalidMetadata(let r): return "__metadata__: \(r)"
        case .invalidEntry(let t, let r): return "tensor '\(t)': \(r)"
        case .unknownDType(let t, let d): return "tensor '\(t)': unknown dtype '\(d)'"
        case .unsupportedDType(let t, let d): return "tensor '\(t)': dtype \(d) is not supported by aicompress yet"
        case .shapeOverflow(let t, let s): return "tensor '\(t)': shape \(s) has more elements or bytes than fit in 64 bits"
        case .lengthMismatch(let t, let e, let a):
            return "tensor '\(t)': data_offsets span \(a) bytes, its dtype and shape need \(e)"
        case .offsetsInvalid(let t, let b, let e): return "tensor '\(t)': data_offsets [\(b), \(e)] end before they begin"
        case .offsetsGap(let t, let b, let e): return "tensor '\(t)': data begins at \(b), expected \(e) (a gap in the buffer)"
        case .offsetsOverlap(let t, let b, let e): return "tensor '\(t)': data begins at \(b), inside the previous tensor (ends at \(e))"
        case .trailingBytes(let end, let size): return "the tensors end at \(end) but the data buffer holds \(size) bytes (trailing bytes)"
        case .invalidIndex(let r): return "index: \(r)"
        case .shardMissingTensor(let s, let t): return "shard '\(s)' does not hold tensor '\(t)' that the index assigns to it"
        case .shardUnexpectedTensor(let s, let t): return "shard '\(s)' holds tensor '\(t)' that the index does not assign to it"
        case .shardEscapes(let s): return "shard '\(s)' is outside the index's folder; refused"
        case .duplicateTensorAcrossShards(let t): return "tensor '\(t)' appears in more than one shard"
        case .unrepresentable(let r): return "cannot be written as safetensors: \(r)"
        }
    }
}

extension SafetensorsError: FormatError {}
