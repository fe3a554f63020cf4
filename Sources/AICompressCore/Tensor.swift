/// How a tensor's bytes represent its values (spec §5). Pruning and quantization add cases.
public enum TensorEncoding: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// Every element stored in order, little-endian, row-major.
    case dense = 0

    public var description: String {
        switch self {
        case .dense: return "dense"
        }
    }
}

/// A named, typed, shaped array of values whose bytes may live in a memory-mapped file.
public struct Tensor: Sendable {
    /// Name, unique and non-empty within a model.
    public var name: String
    /// Element type of the decoded values.
    public var dtype: DType
    /// Dimensions, outermost first.
    public var shape: Shape
    /// How `data` stores the values.
    public var encoding: TensorEncoding
    /// The stored bytes.
    public var data: TensorData

    /// Creates a dense tensor, checking that `data` has exactly the bytes dtype and shape need.
    /// (A model requires non-empty names; an attribute's inline tensor may be unnamed.)
    /// - Throws: `ModelError.shapeOverflow`, `.dataLengthMismatch`.
    public init(name: String, dtype: DType, shape: Shape, data: TensorData) throws(ModelError) {
        guard let expected = dtype.byteCount(elements: shape.elementCount) else { throw .shapeOverflow(shape.dims) }
        guard expected == data.count else {
            throw .dataLengthMismatch(tensor: name, expected: expected, actual: data.count)
        }
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.encoding = .dense
        self.data = data
    }

    /// A dense f32 tensor holding `values` (row-major).
    public init(name: String, shape: Shape, floats values: [Float]) throws(ModelError) {
        try self.init(name: name, dtype: .f32, shape: shape, data: TensorData(values: values))
    }

    /// Number of elements.
    public var elementCount: Int { shape.elementCount }

    /// Bytes the tensor occupies as stored.
    public var storedBytes: Int { data.count }

    /// The values as `Float` (converting from any dtype), for dense tensors.
    public func floatValues() -> [Float] {
        var out = [Float]()
        out.reserveCapacity(elementCount)
        ElementDecoder.forEachChunk(of: self, chunk: 4096) { chunk in
            for v in chunk { out.append(Float(v)) }
        }
        return out
    }

    /// The values as `Double` (converting from any dtype), for dense tensors.
    public func doubleValues() -> [Double] {
        var out = [Double]()
        out.reserveCapacity(elementCount)
        ElementDecoder.forEachChunk(of: self, chunk: 4096) { out.append(contentsOf: $0) }
        return out
    }
}

extension Tensor: Equatable {
    /// Tensors are equal when name, dtype, shape, encoding and stored bytes are all equal.
    public static func == (a: Tensor, b: Tensor) -> Bool {
        guard a.name == b.name, a.dtype == b.dtype, a.shape == b.shape, a.encoding == b.encoding,
              a.data.count == b.data.count else { return false }
        return a.data.withUnsafeBytes { x in b.data.withUnsafeBytes { y in x.elementsEqual(y) } }
    }
}
