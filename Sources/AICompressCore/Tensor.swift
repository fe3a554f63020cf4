/// How a tensor's bytes represent its values (spec §5).
public enum TensorEncoding: Sendable, Hashable, CustomStringConvertible {
    /// Every element stored in order, little-endian, row-major (code 0).
    case dense
    /// A bitmask of the non-zero elements, then only those elements (code 1).
    case sparse(nonZeros: Int)
    /// Integers with scales and optional zero points (code 2); the tensor's dtype is the type
    /// the values dequantize to.
    case quantized(QuantizationParameters)
    /// ggml (llama.cpp) blocks of a quantized `GGMLType` along the last, row-major axis (code 3),
    /// stored exactly as a GGUF file stores them; the dtype is f32, what ggml decodes them to.
    case ggml(GGMLType)
    /// A bitmask of the elements whose integers are stored, those integers, then the scales and
    /// zero points of `.quantized` (code 4, spec §5.4): a pruned tensor, quantized. Unmasked
    /// elements hold their zero point; the dtype is the type the values dequantize to.
    case sparseQuantized(nonZeros: Int, QuantizationParameters)

    /// The code in the checkpoint format.
    public var code: UInt8 {
        switch self {
        case .dense: return 0
        case .sparse: return 1
        case .quantized: return 2
        case .ggml: return 3
        case .sparseQuantized: return 4
        }
    }

    public var description: String {
        switch self {
        case .dense: return "dense"
        case .sparse(let nnz): return "sparse (\(nnz) non-zero)"
        case .quantized(let q): return "\(q.storage.name) \(q.granularity)"
        case .ggml(let type): return "ggml \(type.name)"
        case .sparseQuantized(let nnz, let q): return "sparse \(q.storage.name) \(q.granularity) (\(nnz) stored)"
        }
    }

    /// Payload bytes of a tensor of `dtype` × `shape` in this encoding.
    public func payloadBytes(dtype: DType, shape: Shape) throws(ModelError) -> Int {
        switch self {
        case .dense:
            guard let n = dtype.byteCount(elements: shape.elementCount) else { throw .shapeOverflow(shape.dims) }
            return n
        case .sparse(let nnz):
            return try SparseLayout(dtype: dtype, count: shape.elementCount, nonZeros: nnz).payloadBytes
        case .quantized(let q):
            guard dtype.isFloatingPoint else { throw .invalidQuantization("a quantized tensor decodes to a floating-point dtype, not \(dtype)") }
            return try QuantizedLayout(shape: shape, parameters: q).payloadBytes
        case .ggml(let type):
            return try GGMLLayout.payloadBytes(type, dtype: dtype, shape: shape)
        case .sparseQuantized(let nnz, let q):
            guard dtype.isFloatingPoint else { throw .invalidQuantization("a quantized tensor decodes to a floating-point dtype, not \(dtype)") }
            return try SparseQuantizedLayout(shape: shape, parameters: q, nonZeros: nnz).payloadBytes
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
        try self.init(name: name, dtype: dtype, shape: shape, encoding: .dense, data: data)
    }

    /// Creates a tensor in any encoding, checking that `data` has exactly the bytes it needs.
    public init(name: String, dtype: DType, shape: Shape, encoding: TensorEncoding, data: TensorData) throws(ModelError) {
        let expected = try encoding.payloadBytes(dtype: dtype, shape: shape)
        guard expected == data.count else {
            throw .dataLengthMismatch(tensor: name, expected: expected, actual: data.count)
        }
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.encoding = encoding
        self.data = data
    }

    /// True when the bytes are the plain values.
    public var isDense: Bool { encoding == .dense }

    /// The sparse layout, for sparse tensors.
    public var sparseLayout: SparseLayout? {
        guard case .sparse(let nnz) = encoding else { return nil }
        return try? SparseLayout(dtype: dtype, count: elementCount, nonZeros: nnz)
    }

    /// The quantized layout, for quantized tensors.
    public var quantizedLayout: QuantizedLayout? {
        guard case .quantized(let q) = encoding else { return nil }
        return try? QuantizedLayout(shape: shape, parameters: q)
    }

    /// The ggml block type, for tensors stored in ggml blocks.
    public var ggmlType: GGMLType? {
        guard case .ggml(let type) = encoding else { return nil }
        return type
    }

    /// A dense f32 tensor holding `values` (row-major).
    public init(name: String, shape: Shape, floats values: [Float]) throws(ModelError) {
        try self.init(name: name, dtype: .f32, shape: shape, data: TensorData(values: values))
    }

    /// Number of elements.
    public var elementCount: Int { shape.elementCount }

    /// Bytes the tensor occupies as stored.
    public var storedBytes: Int { data.count }

    /// Bytes of the plain dense form (every element in `dtype`), whatever the encoding.
    public var denseBytes: Int { dtype.byteCount(elements: elementCount) ?? data.count }

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
