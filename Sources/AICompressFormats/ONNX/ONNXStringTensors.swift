import AICompressCore

/// STRING initializers (scikit-learn classifiers' class labels, through skl2onnx). The model
/// holds numeric tensors only, so a STRING initializer travels in the graph as a `Constant`
/// node named `aicompress.string_initializer` whose output is the initializer's name, with the
/// strings in `value_strings` and the original dims in `aicompress.dims`. A .ckpt keeps it as
/// it keeps any node; the ONNX writer turns it back into the STRING initializer it was, so
/// ONNX -> .ckpt -> ONNX gives the same initializer.
public enum ONNXStringTensors {
    /// The name that marks a node as a carried STRING initializer.
    static let nodeName = "aicompress.string_initializer"
    static let valuesAttribute = "value_strings", dimsAttribute = "aicompress.dims"
    /// ONNX's STRING element type.
    static let elementType: Int32 = 8

    /// The carrier node of STRING initializer `t`.
    /// - Throws: `ONNXError` for a negative dimension, or a string count that is not the
    ///   element count of the dims.
    static func node(_ t: TensorRecord) throws -> Node {
        guard t.dims.allSatisfy({ $0 >= 0 }) else { throw ONNXError.negativeDimension(tensor: t.name, dims: t.dims) }
        guard let shape = try? Shape(t.dims.map { Int($0) }) else { throw ONNXError.shapeOverflow(tensor: t.name, dims: t.dims) }
        guard !t.hasSegment, t.raw == nil, t.externalData.isEmpty else {
            throw ONNXError.unsupportedFeature("STRING tensor '\(t.name)' stored as raw, external or segmented data")
        }
        guard shape.elementCount == t.stringData.count else {
            throw ONNXError.typedDataCountMismatch(tensor: t.name, field: "string_data", expected: shape.elementCount,
                                                   actual: t.stringData.count)
        }
        return Node(name: nodeName, opType: "Constant", inputs: [], outputs: [t.name], attributes: [
            Attribute(name: valuesAttribute, value: .strings(t.stringData)),
            Attribute(name: dimsAttribute, value: .ints(t.dims)),
        ])
    }

    /// The strings and dims of a carrier node, or nil for any other node.
    static func carried(_ n: Node) -> (name: String, dims: [Int64], strings: [[UInt8]])? {
        guard n.name == nodeName, n.opType == "Constant", n.domain.isEmpty, n.inputs.isEmpty, n.outputs.count == 1,
              case .strings(let strings)? = n.attribute(valuesAttribute),
              case .ints(let dims)? = n.attribute(dimsAttribute),
              dims.allSatisfy({ $0 >= 0 }), (try? Shape(dims.map { Int($0) }))?.elementCount == strings.count else { return nil }
        return (n.outputs[0], dims, strings)
    }

    /// The STRING initializers carried in `graph`'s top level: name, shape and the strings
    /// (UTF-8, invalid bytes replaced), for display.
    public static func stringTensors(in graph: Graph) -> [(name: String, shape: [Int64], values: [String])] {
        graph.nodes.compactMap(carried).map { ($0.name, $0.dims, $0.strings.map { String(decoding: $0, as: UTF8.self) }) }
    }

    /// The TensorProto of a carrier node's STRING initializer.
    static func tensorProto(_ c: (name: String, dims: [Int64], strings: [[UInt8]])) -> ProtoMessage {
        var m = ProtoMessage()
        for d in c.dims { m.int64(1, d) }
        m.int32(2, elementType)
        for s in c.strings { m.bytes(6, s) }
        m.string(8, c.name)
        return m
    }
}
