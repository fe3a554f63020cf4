/// Errors of the ggml type table, dequantizers and quantizers.
public enum GGMLError: Error, Equatable, Sendable {
    /// A type id ggml does not define.
    case unknownType(id: UInt32)
    /// A ggml type that aicompress does not decode, named.
    case unsupportedType(id: UInt32, name: String)
    /// The byte count is not a whole number of blocks of the type.
    case notWholeBlocks(type: GGMLType, bytes: Int)
    /// The value count is not a whole number of blocks of the type.
    case valuesNotWholeBlocks(type: GGMLType, values: Int)
    /// Input and output sizes disagree.
    case sizeMismatch(type: GGMLType, values: Int, bytes: Int)
    /// No quantizer is implemented for this type (dequantize only).
    case noQuantizer(GGMLType)
}

extension GGMLError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unknownType(let id): return "unknown ggml type \(id)"
        case .unsupportedType(let id, let name): return "ggml type \(name) (\(id)) is not supported by aicompress"
        case .notWholeBlocks(let t, let n): return "\(n) bytes are not a whole number of \(t) blocks of \(t.bytesPerBlock) bytes"
        case .valuesNotWholeBlocks(let t, let n): return "\(n) values are not a whole number of \(t) blocks of \(t.blockSize)"
        case .sizeMismatch(let t, let v, let b): return "\(v) values do not fit \(b) bytes of \(t)"
        case .noQuantizer(let t): return "no quantizer for \(t) (it can only be decoded)"
        }
    }
}
