/// Everything that can be wrong with an ONNX model. Offsets are byte offsets in the .onnx file.
public enum ONNXError: Error, Equatable, Sendable {
    /// The protobuf wire format is broken (truncated, a bad varint, a wrong wire type).
    case malformedProtobuf(reason: String, offset: Int)
    /// protobuf-c refused the message (truncated, wrong wire type, or a length over its limits).
    case decodeFailed
    case missingGraph
    /// ModelProto fields aicompress cannot keep and the model needs (e.g. local functions).
    case unsupportedFeature(String)
    case duplicateInitializer(String)
    case unnamedInitializer(index: Int)
    case unsupportedDataType(tensor: String, type: Int32)
    case negativeDimension(tensor: String, dims: [Int64])
    case shapeOverflow(tensor: String, dims: [Int64])
    case rawDataLengthMismatch(tensor: String, expected: Int, actual: Int)
    case typedDataCountMismatch(tensor: String, field: String, expected: Int, actual: Int)
    case typedValueOutOfRange(tensor: String, field: String, value: Int64)
    case missingData(tensor: String)
    case segmentedTensor(tensor: String)
    case externalDataInvalid(tensor: String, reason: String)
    case externalDataEscapes(tensor: String, location: String)
    case externalDataOutOfRange(tensor: String, location: String, offset: Int, length: Int, fileSize: Int)
    case externalDataFromStdin(tensor: String)
    case sparseInvalid(tensor: String, reason: String)
    case tooLargeToDensify(tensor: String, bytes: Int)
    case invalidAttribute(node: String, attribute: String, reason: String)
    case nestingTooDeep(limit: Int)
    /// The writer cannot express the model in ONNX (e.g. over protobuf's 2 GiB limit).
    case unrepresentable(String)
    /// The output needs a newer opset (`needs` says why) and a node cannot be converted to it.
    case opsetConversion(node: String, op: String, from: Int64, to: Int64, needs: String, why: String)
}

extension ONNXError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .malformedProtobuf(let r, let off): return "not a valid ONNX protobuf: \(r) at offset \(off)"
        case .decodeFailed:
            return "not a valid ONNX protobuf: truncated, a wrong wire type, or a field over protobuf's 2 GiB limit"
        case .missingGraph: return "the model has no graph"
        case .unsupportedFeature(let what): return "unsupported ONNX feature: \(what)"
        case .duplicateInitializer(let n): return "tensor '\(n)': more than one initializer has this name"
        case .unnamedInitializer(let i): return "initializer #\(i) has no name"
        case .unsupportedDataType(let t, let type):
            return "tensor '\(t)': ONNX data type \(type) (\(ONNXTypes.typeName(type))) is not supported"
        case .negativeDimension(let t, let d): return "tensor '\(t)': negative dimension in \(d)"
        case .shapeOverflow(let t, let d): return "tensor '\(t)': shape \(d) has more elements or bytes than fit in 64 bits"
        case .rawDataLengthMismatch(let t, let e, let a):
            return "tensor '\(t)': raw_data is \(a) bytes, its type and dims need \(e)"
        case .typedDataCountMismatch(let t, let f, let e, let a):
            return "tensor '\(t)': \(f) has \(a) values, its type and dims need \(e)"
        case .typedValueOutOfRange(let t, let f, let v):
            return "tensor '\(t)': \(f) holds \(v), out of range for its data type"
        case .missingData(let t): return "tensor '\(t)': no data (neither raw_data, typed values nor external data)"
        case .segmentedTensor(let t): return "tensor '\(t)': segmented tensors are not supported"
        case .externalDataInvalid(let t, let r): return "tensor '\(t)': external data: \(r)"
        case .externalDataEscapes(let t, let loc):
            return "tensor '\(t)': external data location '\(loc)' leaves the model's folder (absolute path, '..' or a link); refused"
        case .externalDataOutOfRange(let t, let loc, let off, let len, let size):
            return "tensor '\(t)': external data offset \(off) + length \(len) runs past the end of '\(loc)' (\(size) bytes)"
        case .externalDataFromStdin(let t):
            return "tensor '\(t)': external data cannot be resolved for a model read from standard input"
        case .sparseInvalid(let t, let r): return "sparse tensor '\(t)': \(r)"
        case .tooLargeToDensify(let t, let b):
            return "sparse tensor '\(t)': its dense form would be \(b) bytes, over the limit of \(ONNXLimits.maxDensifiedBytes)"
        case .invalidAttribute(let n, let a, let r): return "node '\(n)': attribute '\(a)': \(r)"
        case .nestingTooDeep(let limit): return "graphs or types nested more than \(limit) deep"
        case .unrepresentable(let what): return "cannot be written as ONNX: \(what)"
        case .opsetConversion(let node, let op, let from, let to, let needs, let why):
            let hint = to == 13 && needs.hasPrefix("per-channel") ? " (int8/uint8 --per-tensor needs only opset 10)" : ""
            return "cannot be written as ONNX: node '\(node)' (\(op)) cannot be converted from opset \(from) to \(to), "
                + "which \(needs) needs: \(why)\(hint)"
        }
    }
}

extension ONNXError: FormatError {}
