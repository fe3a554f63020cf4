/// A computation graph in ONNX's model: nodes with typed attributes over named values.
///
/// The model's tensors are the graph's initializers, referred to by name. Ops the tool does not
/// know are kept as they are, so a graph read from a file is written back unchanged.
public struct Graph: Sendable, Equatable {
    /// The graph's name (ONNX `GraphProto.name`; may be empty).
    public var name: String
    /// Operator sets the graph was written against.
    public var opsets: [OpsetImport]
    /// Graph inputs (tensors may also appear here, as in ONNX).
    public var inputs: [ValueInfo]
    /// Graph outputs, in the order a run returns them.
    public var outputs: [ValueInfo]
    /// Types and shapes of intermediate values, when known.
    public var valueInfo: [ValueInfo]
    /// Nodes in topological order.
    public var nodes: [Node]
    /// Constant tensors of a *nested* graph (an If or Loop body). The top-level graph's
    /// initializers are the model's tensors, and this stays empty there.
    public var initializers: [Tensor]

    /// A graph of the given parts; by default empty.
    public init(name: String = "", opsets: [OpsetImport] = [], inputs: [ValueInfo] = [], outputs: [ValueInfo] = [],
                valueInfo: [ValueInfo] = [], nodes: [Node] = [], initializers: [Tensor] = []) {
        self.name = name
        self.opsets = opsets
        self.inputs = inputs
        self.outputs = outputs
        self.valueInfo = valueInfo
        self.nodes = nodes
        self.initializers = initializers
    }

    /// How many nodes of each op type, including those in nested graphs.
    public func opCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        func visit(_ g: Graph) {
            for n in g.nodes {
                counts[n.opType, default: 0] += 1
                for a in n.attributes {
                    switch a.value {
                    case .graph(let sub): visit(sub)
                    case .graphs(let subs): subs.forEach(visit)
                    default: break
                    }
                }
            }
        }
        visit(self)
        return counts
    }
}

/// An operator set a graph uses; the empty domain is `ai.onnx`.
public struct OpsetImport: Sendable, Equatable {
    /// The operator domain; empty (or `ai.onnx`) is the default domain.
    public var domain: String
    /// The operator set version of that domain.
    public var version: Int64
    /// The import of `domain` at `version`.
    public init(domain: String, version: Int64) {
        self.domain = domain
        self.version = version
    }
}

/// The name and type of a graph value (input, output or intermediate).
public struct ValueInfo: Sendable, Equatable {
    /// The value's name, as nodes refer to it.
    public var name: String
    /// Its type (tensor element type and shape, sequence, map, or unknown).
    public var type: ValueType

    /// A value called `name` of type `type`.
    public init(name: String, type: ValueType) {
        self.name = name
        self.type = type
    }

    /// A tensor value: element type in ONNX `TensorProto.DataType` numbering (0 when unknown),
    /// and dimensions (nil when even the rank is unknown).
    public init(name: String, elemType: Int32, shape: [Dimension]?) {
        self.init(name: name, type: .tensor(elemType: elemType, shape: shape))
    }

    /// The element type of a tensor value (0 for other kinds).
    public var elemType: Int32 {
        if case .tensor(let e, _) = type { return e }
        return 0
    }

    /// The dimensions of a tensor value, if known.
    public var shape: [Dimension]? {
        if case .tensor(_, let s) = type { return s }
        return nil
    }

    /// A short rendering such as `input [N, 64] float`.
    public var summary: String { "\(name) \(type)" }
}

/// The type of a graph value, following ONNX's `TypeProto`.
public indirect enum ValueType: Sendable, Equatable, CustomStringConvertible {
    /// No type recorded.
    case unspecified
    case tensor(elemType: Int32, shape: [Dimension]?)
    case sparseTensor(elemType: Int32, shape: [Dimension]?)
    case sequence(ValueType)
    /// A map from an ONNX element type to values of a type (as skl2onnx's ZipMap produces).
    case map(keyType: Int32, value: ValueType)
    case optional(ValueType)

    public var description: String {
        func dims(_ s: [Dimension]?) -> String {
            s.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "[?]"
        }
        switch self {
        case .unspecified: return "?"
        case .tensor(let e, let s): return "\(dims(s)) \(ONNXElementType.name(e))"
        case .sparseTensor(let e, let s): return "sparse \(dims(s)) \(ONNXElementType.name(e))"
        case .sequence(let t): return "seq(\(t))"
        case .map(let k, let v): return "map(\(ONNXElementType.name(k)), \(v))"
        case .optional(let t): return "optional(\(t))"
        }
    }
}

/// One dimension of a value's shape.
public enum Dimension: Sendable, Equatable, CustomStringConvertible {
    case unknown
    case fixed(Int64)
    case symbolic(String)

    public var description: String {
        switch self {
        case .unknown: return "?"
        case .fixed(let v): return String(v)
        case .symbolic(let s): return s
        }
    }
}

/// One operation of a graph.
public struct Node: Sendable, Equatable {
    /// The node's name (may be empty; ONNX does not require one).
    public var name: String
    /// The operator, such as `Gemm` or `Conv`.
    public var opType: String
    /// Operator domain; empty is `ai.onnx`.
    public var domain: String
    /// Input value names; an empty name is an omitted optional input.
    public var inputs: [String]
    /// Output value names, in the operator's output order.
    public var outputs: [String]
    /// The node's attributes, in file order.
    public var attributes: [Attribute]

    /// A node applying `opType` (of `domain`) to `inputs`, producing `outputs`.
    public init(name: String = "", opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [Attribute] = []) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// The attribute called `name`, if any.
    public func attribute(_ name: String) -> AttributeValue? {
        attributes.first { $0.name == name }?.value
    }
}

/// A named attribute of a node.
public struct Attribute: Sendable, Equatable {
    /// The attribute's name, such as `transB`.
    public var name: String
    /// Its value.
    public var value: AttributeValue
    /// The attribute `name` set to `value`.
    public init(name: String, value: AttributeValue) {
        self.name = name
        self.value = value
    }
}

/// An attribute value; the kinds and their codes are ONNX's `AttributeProto.AttributeType`.
public indirect enum AttributeValue: Sendable, Equatable {
    case float(Float)
    case int(Int64)
    case string([UInt8])
    case tensor(Tensor)
    case graph(Graph)
    case floats([Float])
    case ints([Int64])
    case strings([[UInt8]])
    case tensors([Tensor])
    case graphs([Graph])

    /// The ONNX AttributeType of this kind.
    public var kind: ONNXAttributeKind {
        switch self {
        case .float: return .float
        case .int: return .int
        case .string: return .string
        case .tensor: return .tensor
        case .graph: return .graph
        case .floats: return .floats
        case .ints: return .ints
        case .strings: return .strings
        case .tensors: return .tensors
        case .graphs: return .graphs
        }
    }

    /// The ONNX AttributeType code of this kind.
    public var kindCode: UInt8 { UInt8(kind.rawValue) }

    public static func == (a: AttributeValue, b: AttributeValue) -> Bool {
        switch (a, b) {
        case let (.float(x), .float(y)): return x.bitPattern == y.bitPattern
        case let (.int(x), .int(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.tensor(x), .tensor(y)): return x == y
        case let (.graph(x), .graph(y)): return x == y
        case let (.floats(x), .floats(y)): return x.map(\.bitPattern) == y.map(\.bitPattern)
        case let (.ints(x), .ints(y)): return x == y
        case let (.strings(x), .strings(y)): return x == y
        case let (.tensors(x), .tensors(y)): return x == y
        case let (.graphs(x), .graphs(y)): return x == y
        default: return false
        }
    }
}

/// ONNX's `AttributeProto.AttributeType` codes (onnx.proto).
public enum ONNXAttributeKind: Int32, Sendable, CaseIterable {
    case undefined = 0
    case float = 1
    case int = 2
    case string = 3
    case tensor = 4
    case graph = 5
    case floats = 6
    case ints = 7
    case strings = 8
    case tensors = 9
    case graphs = 10
    case sparseTensor = 11
    case sparseTensors = 12
    case typeProto = 13
    case typeProtos = 14
}

/// ONNX `TensorProto.DataType` codes (onnx.proto): named constants and display names.
public enum ONNXElementType {
    /// FLOAT (32-bit).
    public static let float: Int32 = 1
    /// UINT8.
    public static let uint8: Int32 = 2
    /// INT8.
    public static let int8: Int32 = 3
    /// UINT16.
    public static let uint16: Int32 = 4
    /// INT16.
    public static let int16: Int32 = 5
    /// INT32.
    public static let int32: Int32 = 6
    /// INT64.
    public static let int64: Int32 = 7
    /// STRING.
    public static let string: Int32 = 8
    /// BOOL.
    public static let bool: Int32 = 9
    /// FLOAT16.
    public static let float16: Int32 = 10
    /// DOUBLE.
    public static let double: Int32 = 11
    /// UINT32.
    public static let uint32: Int32 = 12
    /// UINT64.
    public static let uint64: Int32 = 13
    /// BFLOAT16.
    public static let bfloat16: Int32 = 16
    /// UINT4 (IR 10).
    public static let uint4: Int32 = 21
    /// INT4 (IR 10).
    public static let int4: Int32 = 22

    /// The lower-case ONNX name of a data type code (`float`, `int64`), or `typeN`.
    public static func name(_ code: Int32) -> String {
        let names = ["undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64", "string", "bool",
                     "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16",
                     "float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4", "int4", "float4e2m1"]
        return code >= 0 && Int(code) < names.count ? names[Int(code)] : "type\(code)"
    }
}
