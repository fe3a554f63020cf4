import AICompressCore

/// Options for writing ONNX.
public struct ONNXWriteOptions: Sendable {
    /// Put tensor bytes in a side file (`<output>.data`) instead of the protobuf, as models over
    /// protobuf's 2 GiB limit must.
    public var externalData = false
    /// Tensors smaller than this stay inside the protobuf even with `externalData`.
    public var externalThreshold = 1024
    /// Write tensors as sparse_initializer (values + int64 linear indices) when that is smaller.
    public var sparseInitializers = false

    public init(externalData: Bool = false, externalThreshold: Int = 1024, sparseInitializers: Bool = false) {
        self.externalData = externalData
        self.externalThreshold = externalThreshold
        self.sparseInitializers = sparseInitializers
    }
}

/// Writes a Model as an ONNX ModelProto with a Swift protobuf encoder that streams tensor bytes
/// straight from their (possibly memory-mapped) storage. Deterministic: fields in field-number
/// order, metadata_props sorted by key.
public enum ONNXWriter {
    /// Alignment of tensors in an external data file (so that readers can map them).
    static let externalAlignment = 4096

    /// Encodes `model`. With `options.externalData`, tensor bytes go to `external` (named
    /// `externalLocation`, relative to the model's folder) and the protobuf refers to them.
    public static func write<S: ByteSink, E: ByteSink>(
        _ model: Model, to sink: inout S, options: ONNXWriteOptions, external: inout E?, externalLocation: String?
    ) throws {
        var state = State(options: options, externalLocation: externalLocation)
        let message = try state.modelProto(try ONNXQDQ.lower(model), external: &external)
        guard message.size <= ONNXLimits.maxMessageBytes else {
            throw ONNXError.unrepresentable(
                "the model is \(message.size) bytes, over protobuf's 2 GiB limit; write it with --external-data")
        }
        try message.write(to: &sink)
    }

    struct State {
        let options: ONNXWriteOptions
        let externalLocation: String?
        var externalOffset = 0
        var requiredIR: Int64 = 3

        init(options: ONNXWriteOptions, externalLocation: String?) {
            self.options = options
            self.externalLocation = externalLocation
        }

        mutating func modelProto<E: ByteSink>(_ model: Model, external: inout E?) throws -> ProtoMessage {
            let keys = ONNXReader.fieldKeys
            let graph = model.graph ?? Graph(name: "aicompress")
            var opsets = graph.opsets
            if opsets.isEmpty { opsets = [OpsetImport(domain: "", version: 17)] }
            let graphMessage = try graphProto(graph, tensors: model.tensors, topLevel: true, external: &external,
                                              docString: model.metadata[keys.graphDocString])

            var m = ProtoMessage()
            let opset = opsets.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map(\.version).max() ?? 17
            let stored = model.metadata[keys.irVersion].flatMap { Int64($0) }
            // The stored IR version is kept (ONNXQDQ.raiseOpset raises it with the opset): a newer
            // one would change how onnxruntime treats initializers listed as graph inputs.
            m.int64(1, max(stored ?? ONNXWriter.irVersion(forOpset: opset), requiredIR))
            m.string(2, "aicompress")
            m.string(3, AICompressVersion.string)
            if let d = model.metadata[keys.domain] { m.string(4, d) }
            if let v = model.metadata[keys.modelVersion].flatMap({ Int64($0) }) { m.int64(5, v) }
            if let d = model.metadata[keys.docString] { m.string(6, d) }
            m.message(7, graphMessage)
            for o in opsets {
                var op = ProtoMessage()
                op.string(1, o.domain)
                op.int64(2, o.version)
                m.message(8, op)
            }
            let fieldKeys: Set<String> = [keys.irVersion, keys.producerName, keys.producerVersion, keys.domain,
                                          keys.modelVersion, keys.docString, keys.graphDocString]
            for (k, v) in model.metadata.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) })
            where !fieldKeys.contains(k) {
                var e = ProtoMessage()
                e.string(1, k)
                e.string(2, v)
                m.message(14, e)
            }
            return m
        }

        mutating func graphProto<E: ByteSink>(
            _ g: Graph, tensors: [Tensor], topLevel: Bool, external: inout E?, docString: String? = nil
        ) throws -> ProtoMessage {
            var m = ProtoMessage()
            // STRING initializers carried as nodes go back to being initializers.
            let strings = g.nodes.compactMap(ONNXStringTensors.carried)
            for n in g.nodes where ONNXStringTensors.carried(n) == nil { m.message(1, try nodeProto(n, external: &external)) }
            m.string(2, g.name.isEmpty ? "aicompress" : g.name)
            var sparse: [ProtoMessage] = []
            for t in (topLevel ? tensors : g.initializers) {
                if options.sparseInitializers, let s = try sparseProto(t) {
                    sparse.append(s)
                } else {
                    m.message(5, try tensorProto(t, external: &external))
                }
            }
            for s in strings { m.message(5, ONNXStringTensors.tensorProto(s)) }
            if let docString { m.string(10, docString) }
            for v in g.inputs { m.message(11, valueInfoProto(v)) }
            for v in g.outputs { m.message(12, valueInfoProto(v)) }
            for v in g.valueInfo { m.message(13, valueInfoProto(v)) }
            for s in sparse { m.message(15, s) }
            return m
        }

        mutating func nodeProto<E: ByteSink>(_ n: Node, external: inout E?) throws -> ProtoMessage {
            var m = ProtoMessage()
            for i in n.inputs { m.string(1, i) }
            for o in n.outputs { m.string(2, o) }
            if !n.name.isEmpty { m.string(3, n.name) }
            m.string(4, n.opType)
            for a in n.attributes { m.message(5, try attributeProto(a, external: &external)) }
            if !n.domain.isEmpty { m.string(7, n.domain) }
            return m
        }

        mutating func attributeProto<E: ByteSink>(_ a: Attribute, external: inout E?) throws -> ProtoMessage {
            var m = ProtoMessage()
            m.string(1, a.name)
            switch a.value {
            case .float(let f): m.float(2, f)
            case .int(let i): m.int64(3, i)
            case .string(let s): m.bytes(4, s)
            case .tensor(let t): m.message(5, try tensorProto(t, external: &external, inline: true))
            case .graph(let g): m.message(6, try graphProto(g, tensors: [], topLevel: false, external: &external))
            case .floats(let fs): fs.forEach { m.float(7, $0) }
            case .ints(let xs): xs.forEach { m.int64(8, $0) }
            case .strings(let ss): ss.forEach { m.bytes(9, $0) }
            case .tensors(let ts): for t in ts { m.message(10, try tensorProto(t, external: &external, inline: true)) }
            case .graphs(let gs): for g in gs { m.message(11, try graphProto(g, tensors: [], topLevel: false, external: &external)) }
            }
            m.int32(20, a.value.kind.rawValue)
            return m
        }

        mutating func tensorProto<E: ByteSink>(_ t: Tensor, external: inout E?, inline: Bool = false) throws -> ProtoMessage {
            guard t.encoding == .dense else { throw ONNXError.unrepresentable("tensor '\(t.name)' is not dense") }
            requiredIR = max(requiredIR, ONNXTypes.minimumIRVersion(for: t.dtype))
            var m = ProtoMessage()
            for d in t.shape.dims { m.int64(1, Int64(d)) }
            m.int32(2, ONNXTypes.code(of: t.dtype))
            if !t.name.isEmpty { m.string(8, t.name) }
            if !inline, options.externalData, t.data.count >= options.externalThreshold, external != nil,
               let location = externalLocation {
                let start = (externalOffset + ONNXWriter.externalAlignment - 1) / ONNXWriter.externalAlignment * ONNXWriter.externalAlignment
                if start > externalOffset { try external!.write([UInt8](repeating: 0, count: start - externalOffset)) }
                try external!.write(t.data)
                externalOffset = start + t.data.count
                for (k, v) in [("location", location), ("offset", String(start)), ("length", String(t.data.count))] {
                    var e = ProtoMessage()
                    e.string(1, k)
                    e.string(2, v)
                    m.message(13, e)
                }
                m.int32(14, ONNXTypes.externalDataLocation)
            } else {
                m.data(9, t.data)
            }
            return m
        }

        /// A SparseTensorProto for `t` when that is smaller than the dense form, else nil.
        func sparseProto(_ t: Tensor) throws -> ProtoMessage? {
            guard t.encoding == .dense, t.dtype.bits >= 8, t.elementCount > 0 else { return nil }
            let width = t.dtype.bits / 8
            var positions: [Int64] = []
            var values: [UInt8] = []
            t.data.withUnsafeBytes { raw in
                for k in 0..<t.elementCount {
                    let element = UnsafeRawBufferPointer(rebasing: raw[(k * width)..<((k + 1) * width)])
                    if element.contains(where: { $0 != 0 }) {
                        positions.append(Int64(k))
                        values.append(contentsOf: element)
                    }
                }
            }
            guard positions.count * (width + 8) < t.data.count else { return nil }
            var v = ProtoMessage()
            v.int64(1, Int64(positions.count))
            v.int32(2, ONNXTypes.code(of: t.dtype))
            v.string(8, t.name)
            v.bytes(9, values)
            var ix = ProtoMessage()
            ix.int64(1, Int64(positions.count))
            ix.int32(2, ONNXElementType.int64)
            var raw: [UInt8] = []
            raw.reserveCapacity(positions.count * 8)
            for p in positions { withUnsafeBytes(of: p.littleEndian) { raw.append(contentsOf: $0) } }
            ix.bytes(9, raw)
            var m = ProtoMessage()
            m.message(1, v)
            m.message(2, ix)
            for d in t.shape.dims { m.int64(3, Int64(d)) }
            return m
        }

        func valueInfoProto(_ v: ValueInfo) -> ProtoMessage {
            var m = ProtoMessage()
            m.string(1, v.name)
            if v.type != .unspecified { m.message(2, typeProto(v.type)) }
            return m
        }

        func typeProto(_ t: ValueType) -> ProtoMessage {
            func shapeProto(_ dims: [Dimension]) -> ProtoMessage {
                var s = ProtoMessage()
                for d in dims {
                    var dm = ProtoMessage()
                    switch d {
                    case .unknown: break
                    case .fixed(let x): dm.int64(1, x)
                    case .symbolic(let p): dm.string(2, p)
                    }
                    s.message(1, dm)
                }
                return s
            }
            func tensorType(_ e: Int32, _ shape: [Dimension]?) -> ProtoMessage {
                var tt = ProtoMessage()
                tt.int32(1, e)
                if let shape { tt.message(2, shapeProto(shape)) }
                return tt
            }
            var m = ProtoMessage()
            switch t {
            case .unspecified: break
            case .tensor(let e, let s): m.message(1, tensorType(e, s))
            case .sequence(let inner):
                var s = ProtoMessage()
                s.message(1, typeProto(inner))
                m.message(4, s)
            case .map(let k, let v):
                var mp = ProtoMessage()
                mp.int32(1, k)
                mp.message(2, typeProto(v))
                m.message(5, mp)
            case .sparseTensor(let e, let s): m.message(8, tensorType(e, s))
            case .optional(let inner):
                var o = ProtoMessage()
                o.message(1, typeProto(inner))
                m.message(9, o)
            }
            return m
        }
    }

    /// The IR version that goes with an ai.onnx opset (onnx/onnx docs/Versioning.md).
    static func irVersion(forOpset opset: Int64) -> Int64 {
        switch opset {
        case ..<9: return 3
        case 9: return 4
        case 10: return 5
        case 11: return 6
        case 12...14: return 7
        case 15...18: return 8
        case 19...20: return 9
        case 21...22: return 10
        default: return 11
        }
    }
}
