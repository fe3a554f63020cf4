import AICompressCore
import COnnxProto
#if canImport(Glibc)
import Glibc
#endif

/// The one file that talks to protobuf-c: decodes an ONNX file into `ModelRecord`.
///
/// Before protobuf-c sees the bytes, a wire-level pass (1) checks the nesting of recursive
/// messages (protobuf-c recurses without a limit, so a hostile file could exhaust the stack),
/// and (2) builds a *skeleton*: the model with the raw_data payload of every graph initializer
/// cut out and its byte range recorded. protobuf-c copies every bytes field it decodes; cutting
/// the tensor payloads out first keeps decoding memory small and lets the tensors view the
/// mapped file in place, and lets files over protobuf's 2 GiB message limit decode.
enum ONNXProtobuf {
    /// Message kinds whose fields can nest recursively, for the depth check.
    private enum Kind: String {
        case model = "ModelProto", graph = "GraphProto", node = "NodeProto", attribute = "AttributeProto"
        case valueInfo = "ValueInfoProto", type = "TypeProto", typeTensor = "TypeProto.Tensor"
        case typeInner = "TypeProto.Sequence/Optional", typeMap = "TypeProto.Map", tensor = "TensorProto"
        case sparse = "SparseTensorProto"
    }

    /// Sub-message fields of each kind, with the kind of the sub-message.
    private static func child(_ kind: Kind, _ field: Int) -> Kind? {
        switch (kind, field) {
        case (.model, 7): return .graph
        case (.graph, 1): return .node
        case (.graph, 5): return .tensor
        case (.graph, 15): return .sparse
        case (.graph, 11), (.graph, 12), (.graph, 13): return .valueInfo
        case (.node, 5): return .attribute
        case (.attribute, 5), (.attribute, 10): return .tensor
        case (.attribute, 6), (.attribute, 11): return .graph
        case (.attribute, 22), (.attribute, 23): return .sparse
        case (.valueInfo, 2): return .type
        case (.type, 1), (.type, 8): return .typeTensor
        case (.type, 4), (.type, 9): return .typeInner
        case (.type, 5): return .typeMap
        case (.typeInner, 1), (.typeMap, 2): return .type
        default: return nil
        }
    }

    /// Message levels allowed: enough for ONNXLimits.maxDepth nested subgraphs and types.
    static let maxMessageDepth = 4 * ONNXLimits.maxDepth

    private static func checkNesting(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ kind: Kind, depth: Int) throws {
        guard depth <= maxMessageDepth else { throw ONNXError.nestingTooDeep(limit: ONNXLimits.maxDepth) }
        try ProtoWire.fields(bytes, range) { f in
            guard let sub = child(kind, f.number) else { return }
            guard f.wireType == ProtoWire.lengthDelimited else {
                throw ONNXError.malformedProtobuf(
                    reason: "\(kind.rawValue) field \(f.number) holds a message but has wire type \(f.wireType)", offset: f.start)
            }
            // Tensors do not nest; their payloads are not walked.
            if sub == .tensor || sub == .typeTensor { return }
            try checkNesting(bytes, f.payload, sub, depth: depth + 1)
        }
    }

    /// Re-encodes a message's fields, passing each through `transform` (which appends the
    /// replacement, or nothing to drop it), and returns the new payload.
    private static func rewrite(
        _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ transform: (ProtoWire.Field, inout [UInt8]) throws -> Void
    ) throws -> [UInt8] {
        var out: [UInt8] = []
        try ProtoWire.fields(bytes, range) { f in try transform(f, &out) }
        return out
    }

    private static func appendField(_ number: Int, payload: [UInt8], to out: inout [UInt8]) {
        ProtoWire.appendVarint(UInt64(number << 3 | ProtoWire.lengthDelimited), to: &out)
        ProtoWire.appendVarint(UInt64(payload.count), to: &out)
        out.append(contentsOf: payload)
    }

    /// The skeleton of a ModelProto and, in initializer order, where each raw_data was.
    private static func skeleton(_ bytes: UnsafeRawBufferPointer) throws -> (bytes: [UInt8], raw: [Range<Int>?]) {
        var raw: [Range<Int>?] = []
        let whole = 0..<bytes.count
        let model = try rewrite(bytes, whole) { f, out in
            if f.number == 25 { throw ONNXError.unsupportedFeature("local functions (ModelProto.functions)") }
            guard f.number == 7, f.wireType == ProtoWire.lengthDelimited else {
                out.append(contentsOf: bytes[f.start..<f.payload.upperBound])
                return
            }
            let graph = try rewrite(bytes, f.payload) { g, gout in
                guard g.number == 5, g.wireType == ProtoWire.lengthDelimited else {
                    gout.append(contentsOf: bytes[g.start..<g.payload.upperBound])
                    return
                }
                var found: Range<Int>? = nil
                let tensor = try rewrite(bytes, g.payload) { t, tout in
                    if t.number == 9, t.wireType == ProtoWire.lengthDelimited {
                        found = t.payload
                    } else {
                        tout.append(contentsOf: bytes[t.start..<t.payload.upperBound])
                    }
                }
                raw.append(found)
                appendField(5, payload: tensor, to: &gout)
            }
            appendField(7, payload: graph, to: &out)
        }
        return (model, raw)
    }

    /// Decodes the ONNX file in `bytes`.
    /// - Throws: `ONNXError`.
    static func decode(_ bytes: UnsafeRawBufferPointer) throws -> ModelRecord {
        try checkNesting(bytes, 0..<bytes.count, .model, depth: 1)
        let (skeletonBytes, rawRanges) = try skeleton(bytes)
        guard skeletonBytes.count <= ONNXLimits.maxMessageBytes else {
            throw ONNXError.unrepresentable("the model's structure alone exceeds protobuf's 2 GiB limit")
        }
        let decoded = skeletonBytes.withUnsafeBufferPointer { p in
            onnx__model_proto__unpack(nil, p.count, p.baseAddress)
        }
        guard let decoded else { throw ONNXError.decodeFailed }
        defer { onnx__model_proto__free_unpacked(decoded, nil) }
        var record = convert(decoded.pointee)
        // Attach the raw_data ranges cut out of the initializers, in order.
        if var graph = record.graph {
            guard graph.initializers.count == rawRanges.count else { throw ONNXError.decodeFailed }
            for (i, r) in rawRanges.enumerated() where r != nil {
                graph.initializers[i].raw = .file(r!)
            }
            record.graph = graph
        }
        return record
    }

    // MARK: C structs to records

    private static func string(_ p: UnsafeMutablePointer<CChar>?) -> String {
        guard let p else { return "" }
        // Invalid UTF-8 becomes U+FFFD rather than an error: names are labels, not data.
        return String(decoding: UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p)), as: UTF8.self)
    }

    private static func array<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int) -> [T] {
        guard let p, n > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: p, count: n))
    }

    private static func messages<T, R>(_ p: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ n: Int, _ f: (T) -> R) -> [R] {
        guard let p, n > 0 else { return [] }
        return UnsafeBufferPointer(start: p, count: n).compactMap { $0.map { f($0.pointee) } }
    }

    private static func binary(_ b: ProtobufCBinaryData) -> [UInt8] {
        guard let data = b.data, b.len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: b.len))
    }

    private static func entries(_ p: UnsafeMutablePointer<UnsafeMutablePointer<Onnx__StringStringEntryProto>?>?, _ n: Int) -> [(key: String, value: String)] {
        messages(p, n) { (key: string($0.key), value: string($0.value)) }
    }

    private static func convert(_ m: Onnx__ModelProto) -> ModelRecord {
        var r = ModelRecord()
        if m.has_ir_version != 0 { r.irVersion = m.ir_version }
        r.opsets = messages(m.opset_import, m.n_opset_import) {
            OpsetImport(domain: string($0.domain), version: $0.has_version != 0 ? $0.version : 1)
        }
        if m.producer_name != nil { r.producerName = string(m.producer_name) }
        if m.producer_version != nil { r.producerVersion = string(m.producer_version) }
        if m.domain != nil { r.domain = string(m.domain) }
        if m.has_model_version != 0 { r.modelVersion = m.model_version }
        if m.doc_string != nil { r.docString = string(m.doc_string) }
        r.graph = m.graph.map { convert($0.pointee) }
        r.metadataProps = entries(m.metadata_props, m.n_metadata_props)
        return r
    }

    private static func convert(_ g: Onnx__GraphProto) -> GraphRecord {
        var r = GraphRecord()
        r.name = string(g.name)
        r.docString = string(g.doc_string)
        r.nodes = messages(g.node, g.n_node, convert)
        r.initializers = messages(g.initializer, g.n_initializer, convert)
        r.sparseInitializers = messages(g.sparse_initializer, g.n_sparse_initializer, convert)
        r.inputs = messages(g.input, g.n_input, convert)
        r.outputs = messages(g.output, g.n_output, convert)
        r.valueInfo = messages(g.value_info, g.n_value_info, convert)
        return r
    }

    private static func convert(_ n: Onnx__NodeProto) -> NodeRecord {
        var r = NodeRecord()
        r.inputs = array(n.input, n.n_input).map { string($0) }
        r.outputs = array(n.output, n.n_output).map { string($0) }
        r.name = string(n.name)
        r.opType = string(n.op_type)
        r.domain = string(n.domain)
        r.attributes = messages(n.attribute, n.n_attribute, convert)
        return r
    }

    private static func convert(_ a: Onnx__AttributeProto) -> AttributeRecord {
        var r = AttributeRecord()
        r.name = string(a.name)
        r.type = a.has_type != 0 ? a.type : 0
        r.refAttrName = string(a.ref_attr_name)
        r.f = a.f
        r.i = a.i
        r.s = binary(a.s)
        r.t = a.t.map { convert($0.pointee) }
        r.g = a.g.map { [convert($0.pointee)] } ?? []
        r.hasSparseTensor = a.sparse_tensor != nil
        r.floats = array(a.floats, a.n_floats)
        r.ints = array(a.ints, a.n_ints)
        r.strings = array(a.strings, a.n_strings).map(binary)
        r.tensors = messages(a.tensors, a.n_tensors, convert)
        r.graphs = messages(a.graphs, a.n_graphs, convert)
        r.sparseTensorCount = a.n_sparse_tensors
        return r
    }

    private static func convert(_ t: Onnx__TensorProto) -> TensorRecord {
        var r = TensorRecord()
        r.name = string(t.name)
        r.dims = array(t.dims, t.n_dims)
        r.dataType = t.has_data_type != 0 ? t.data_type : 0
        if t.has_raw_data != 0 { r.raw = .bytes(binary(t.raw_data)) }
        r.floatData = array(t.float_data, t.n_float_data)
        r.int32Data = array(t.int32_data, t.n_int32_data)
        r.int64Data = array(t.int64_data, t.n_int64_data)
        r.doubleData = array(t.double_data, t.n_double_data)
        r.uint64Data = array(t.uint64_data, t.n_uint64_data)
        r.stringCount = t.n_string_data
        r.stringData = array(t.string_data, t.n_string_data).map(binary)
        r.externalData = entries(t.external_data, t.n_external_data)
        r.dataLocation = t.has_data_location != 0 ? t.data_location : 0
        r.hasSegment = t.segment != nil
        return r
    }

    private static func convert(_ s: Onnx__SparseTensorProto) -> SparseRecord {
        SparseRecord(values: s.values.map { convert($0.pointee) }, indices: s.indices.map { convert($0.pointee) },
                     dims: array(s.dims, s.n_dims))
    }

    private static func convert(_ v: Onnx__ValueInfoProto) -> ValueInfo {
        ValueInfo(name: string(v.name), type: v.type.map { convert($0.pointee) } ?? .unspecified)
    }

    private static func shape(_ s: UnsafeMutablePointer<Onnx__TensorShapeProto>?) -> [Dimension]? {
        guard let s else { return nil }
        return messages(s.pointee.dim, s.pointee.n_dim) { d -> Dimension in
            switch d.value_case {
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE: return d.dim_value >= 0 ? .fixed(d.dim_value) : .unknown
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM: return .symbolic(string(d.dim_param))
            default: return .unknown
            }
        }
    }

    /// Nesting was bounded by `checkNesting`, so this recursion is too.
    private static func convert(_ t: Onnx__TypeProto) -> ValueType {
        switch t.value_case {
        case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
            guard let tt = t.tensor_type?.pointee else { return .unspecified }
            return .tensor(elemType: tt.has_elem_type != 0 ? tt.elem_type : 0, shape: shape(tt.shape))
        case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
            guard let st = t.sparse_tensor_type?.pointee else { return .unspecified }
            return .sparseTensor(elemType: st.has_elem_type != 0 ? st.elem_type : 0, shape: shape(st.shape))
        case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
            return .sequence(t.sequence_type?.pointee.elem_type.map { convert($0.pointee) } ?? .unspecified)
        case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE:
            return .optional(t.optional_type?.pointee.elem_type.map { convert($0.pointee) } ?? .unspecified)
        case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
            guard let mt = t.map_type?.pointee else { return .unspecified }
            return .map(keyType: mt.has_key_type != 0 ? mt.key_type : 0,
                        value: mt.value_type.map { convert($0.pointee) } ?? .unspecified)
        default:
            return .unspecified
        }
    }
}
