import AICompressCore

/// The element kinds the executor computes with. Float tensors of any precision are computed in
/// float32; integer and boolean tensors keep exact 64-bit values.
public enum ElementKind: Sendable, Equatable {
    case float
    case int64
    case bool
}

/// A dense row-major array: float32 values or exact int64 values.
public struct NDArray: Sendable, Equatable {
    public var shape: [Int]
    public var kind: ElementKind
    /// Values when `kind == .float`.
    public var floats: [Float]
    /// Values when `kind` is `.int64` or `.bool` (0/1).
    public var ints: [Int64]

    public init(shape: [Int], floats: [Float]) {
        precondition(shape.reduce(1, *) == floats.count, "shape \(shape) does not match \(floats.count) values")
        self.shape = shape
        self.kind = .float
        self.floats = floats
        self.ints = []
    }

    public init(shape: [Int], ints: [Int64], kind: ElementKind = .int64) {
        precondition(shape.reduce(1, *) == ints.count, "shape \(shape) does not match \(ints.count) values")
        self.shape = shape
        self.kind = kind
        self.floats = []
        self.ints = ints
    }

    public static func zeros(_ shape: [Int]) -> NDArray {
        NDArray(shape: shape, floats: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    public var isFloat: Bool { kind == .float }

    /// Values as Float whatever the kind.
    public var asFloats: [Float] { kind == .float ? floats : ints.map { Float($0) } }
    /// Values as Int64 whatever the kind (floats truncated toward zero, as ONNX Cast does).
    public var asInts: [Int64] {
        kind == .float ? floats.map { $0.isFinite ? Int64(exactly: $0.rounded(.towardZero)) ?? 0 : 0 } : ints
    }

    /// The same values with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> NDArray {
        var r = self
        r.shape = newShape
        return r
    }

    /// Elements picked by flat source index, in order, giving an array of `shape`.
    func gathered(_ indices: [Int], shape: [Int]) -> NDArray {
        switch kind {
        case .float: return NDArray(shape: shape, floats: indices.map { floats[$0] })
        case .int64, .bool: return NDArray(shape: shape, ints: indices.map { ints[$0] }, kind: kind)
        }
    }

    /// Row-major strides of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }
}

extension NDArray {
    /// The float32 values of a model tensor: dense, sparse or quantized, any float or integer dtype.
    public init(tensor: Tensor) throws(ExecutionError) {
        let shape = tensor.shape.dims
        let t: Tensor
        switch tensor.encoding {
        case .sparse, .ggml, .sparseQuantized:
            do { t = try tensor.densified() } catch {
                throw ExecutionError.badTensor(tensor.name, "\(error)")
            }
        case .dense, .quantized:
            t = tensor
        }
        if let layout = t.quantizedLayout {
            var out = [Float](repeating: 0, count: t.elementCount)
            t.data.withUnsafeBytes { raw in
                for k in 0..<out.count { out[k] = layout.value(raw, k) }
            }
            self.init(shape: shape, floats: out)
            return
        }
        switch t.dtype {
        case .i64, .u64:
            // exact 64-bit values, not through Double (u64 above 2^63 wraps to negative, as a cast would)
            let values = t.data.withUnsafeBytes { raw in
                (0..<t.elementCount).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) }
            }
            self.init(shape: shape, ints: values)
        case .i8, .u8, .i16, .u16, .i32, .u32, .i4, .u4:
            self.init(shape: shape, ints: t.doubleValues().map { Int64($0) })  // exact in a Double
        case .bool:
            self.init(shape: shape, ints: t.doubleValues().map { $0 != 0 ? 1 : 0 }, kind: .bool)
        default:
            self.init(shape: shape, floats: t.floatValues())
        }
    }
}

/// Errors from building or running a graph.
public enum ExecutionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The model has no graph to execute.
    case noGraph
    /// An op the executor does not implement.
    case unsupportedOp(node: String, op: String)
    /// Several unsupported ops (or one used by several nodes), all listed.
    case unsupportedOps([MissingOp])
    /// An op used in a way the executor does not implement (an attribute value, a rank).
    case unsupported(node: String, op: String, String)
    /// Inputs whose shapes or kinds do not fit the op.
    case shapeMismatch(node: String, op: String, String)
    /// A value used before any node produced it.
    case missingValue(String)
    /// A tensor that cannot be used (bad encoding, wrong kind).
    case badTensor(String, String)
    /// Bad input data for the graph.
    case badInput(String)

    public var description: String {
        switch self {
        case .noGraph: return "the model has no graph to execute (a bare checkpoint holds only tensors)"
        case .unsupportedOp(let n, let op): return "node '\(n)': op \(op) is not supported by the executor"
        case .unsupportedOps(let ops):
            let nodes = ops.reduce(0) { $0 + $1.nodes }
            let list = ops.map { $0.nodes == 1 ? "\($0.op) (node '\($0.firstNode)')" : "\($0.op) (\($0.nodes) nodes, first '\($0.firstNode)')" }
            return "\(ops.count) op\(ops.count == 1 ? "" : "s") in \(nodes) nodes are not supported by the executor: \(list.joined(separator: ", "))"
        case .unsupported(let n, let op, let why): return "node '\(n)' (\(op)): \(why)"
        case .shapeMismatch(let n, let op, let why): return "node '\(n)' (\(op)): \(why)"
        case .missingValue(let v): return "value '\(v)' is used before it is computed"
        case .badTensor(let t, let why): return "tensor '\(t)': \(why)"
        case .badInput(let why): return why
        }
    }
}
extension ExecutionError: DataFault {}

extension ExecutionError {
    /// An op the executor lacks: its key, how many nodes use it and the first of them.
    public struct MissingOp: Sendable, Equatable {
        /// Domain-qualified op name.
        public var op: String
        /// Nodes of the graph that use it.
        public var nodes: Int
        /// Name of the first such node.
        public var firstNode: String
    }
}
