/// Errors raised when building or changing an in-memory model.
public enum ModelError: Error, Equatable, Sendable {
    /// Two tensors share a name.
    case duplicateTensorName(String)
    /// A tensor name is empty.
    case emptyTensorName
    /// A dimension is negative.
    case negativeDimension([Int])
    /// The product of the dimensions (or the byte size) does not fit in a 64-bit integer.
    case shapeOverflow([Int])
    /// A tensor's byte count does not match its dtype, shape and encoding.
    case dataLengthMismatch(tensor: String, expected: Int, actual: Int)
    /// No tensor has this name.
    case noSuchTensor(String)
    /// Quantization parameters that do not fit the tensor.
    case invalidQuantization(String)
    /// A sparse encoding that does not fit the tensor.
    case invalidSparsity(String)
}

extension ModelError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .duplicateTensorName(let n): return "duplicate tensor name '\(n)'"
        case .emptyTensorName: return "empty tensor name"
        case .negativeDimension(let d): return "negative dimension in shape \(d)"
        case .shapeOverflow(let d): return "shape \(d) has more elements than fit in 64 bits"
        case .dataLengthMismatch(let t, let e, let a):
            return "tensor '\(t)': data is \(a) bytes, dtype and shape need \(e)"
        case .noSuchTensor(let n): return "no tensor named '\(n)'"
        case .invalidQuantization(let r): return "invalid quantization: \(r)"
        case .invalidSparsity(let r): return "invalid sparse encoding: \(r)"
        }
    }
}
extension ModelError: DataFault {}
