import AICompressCore

/// Facts about an ONNX file that are not part of the model.
public struct ONNXInfo: Sendable {
    /// ModelProto.ir_version, if present.
    public var irVersion: Int64?
    /// ModelProto.opset_import, in file order.
    public var opsets: [OpsetImport]
    /// Files holding external data, as mapped.
    public var externalFiles: [InputFile]
}

/// Reads ONNX models: decodes with protobuf-c (ONNXProtobuf), then checks and converts every
/// initializer (raw_data, typed fields, external data, sparse) into zero-copy or owned tensors,
/// and keeps the graph — unknown ops and all — so that it can be written back.
public enum ONNXReader {
    /// Metadata keys for ModelProto's own fields; metadata_props keep their keys.
    static let fieldKeys = (
        irVersion: "onnx.ir_version", producerName: "onnx.producer_name", producerVersion: "onnx.producer_version",
        domain: "onnx.domain", modelVersion: "onnx.model_version", docString: "onnx.doc_string",
        graphDocString: "onnx.graph.doc_string"
    )

    /// True when `bytes` look like a serialized ModelProto: field 1 (ir_version, a small varint)
    /// first, as every exporter writes it, followed by another ModelProto field.
    public static func looksLikeONNX(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 4, bytes[0] == 0x08, bytes[1] >= 1, bytes[1] <= 0x7F else { return false }
        return [0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72].contains(bytes[2])
    }

    /// Reads the ONNX model in `buffer`; external data files come from `sideFiles` (the model's
    /// folder; `NoSideFiles()` for a model read from standard input or memory).
    /// - Throws: `ONNXError`, or `FileError` for external data files.
    public static func read(_ buffer: ByteBuffer, sideFiles: any SideFileResolver) throws -> (model: Model, info: ONNXInfo) {
        let record = try ONNXProtobuf.decode(buffer.bytes)
        guard let graphRecord = record.graph else { throw ONNXError.missingGraph }
        var context = Context(buffer: buffer, sideFiles: sideFiles)
        var model = Model()
        var seen = Set<String>()
        var stringNodes: [Node] = []
        for (i, t) in graphRecord.initializers.enumerated() {
            guard !t.name.isEmpty else { throw ONNXError.unnamedInitializer(index: i) }
            guard seen.insert(t.name).inserted else { throw ONNXError.duplicateInitializer(t.name) }
            if t.dataType == ONNXStringTensors.elementType {
                stringNodes.append(try ONNXStringTensors.node(t))  // carried in the graph (ONNXStringTensors)
            } else {
                try model.append(try context.tensor(t))
            }
        }
        for s in graphRecord.sparseInitializers {
            let t = try context.densify(s)
            guard seen.insert(t.name).inserted else { throw ONNXError.duplicateInitializer(t.name) }
            try model.append(t)
        }
        var graph = try context.graph(graphRecord, depth: 1)
        graph.nodes = stringNodes + graph.nodes
        graph.opsets = record.opsets
        model.graph = graph
        var meta: [String: String] = [:]
        for (k, v) in record.metadataProps { meta[k] = v }
        let keys = fieldKeys
        if let v = record.irVersion { meta[keys.irVersion] = String(v) }
        if let v = record.producerName { meta[keys.producerName] = v }
        if let v = record.producerVersion { meta[keys.producerVersion] = v }
        if let v = record.domain { meta[keys.domain] = v }
        if let v = record.modelVersion { meta[keys.modelVersion] = String(v) }
        if let v = record.docString, !v.isEmpty { meta[keys.docString] = v }
        if !graphRecord.docString.isEmpty { meta[keys.graphDocString] = graphRecord.docString }
        model.metadata = meta
        model = ONNXQDQ.fold(model)
        return (model, ONNXInfo(irVersion: record.irVersion, opsets: record.opsets, externalFiles: context.externalOrder))
    }

    /// Conversion state: the model's bytes and the external data files mapped so far.
    struct Context {
        let buffer: ByteBuffer
        let sideFiles: any SideFileResolver
        var external: [String: InputFile] = [:]
        var externalOrder: [InputFile] = []

        init(buffer: ByteBuffer, sideFiles: any SideFileResolver) {
            self.buffer = buffer
            self.sideFiles = sideFiles
        }

        mutating func graph(_ g: GraphRecord, depth: Int) throws -> Graph {
            guard depth <= ONNXLimits.maxDepth else { throw ONNXError.nestingTooDeep(limit: ONNXLimits.maxDepth) }
            var out = Graph(name: g.name, inputs: g.inputs, outputs: g.outputs, valueInfo: g.valueInfo)
            for n in g.nodes {
                var attributes: [Attribute] = []
                for a in n.attributes {
                    attributes.append(Attribute(name: a.name, value: try attribute(a, node: n, depth: depth)))
                }
                out.nodes.append(Node(name: n.name, opType: n.opType, domain: n.domain, inputs: n.inputs,
                                      outputs: n.outputs, attributes: attributes))
            }
            if depth > 1 {
                for t in g.initializers {
                    if t.dataType == ONNXStringTensors.elementType {
                        out.nodes.insert(try ONNXStringTensors.node(t), at: 0)
                    } else {
                        out.initializers.append(try tensor(t))
                    }
                }
                for s in g.sparseInitializers { out.initializers.append(try densify(s)) }
            }
            return out
        }

        mutating func attribute(_ a: AttributeRecord, node: NodeRecord, depth: Int) throws -> AttributeValue {
            let nodeName = node.name.isEmpty ? node.opType : node.name
            func fail(_ reason: String) -> ONNXError { .invalidAttribute(node: nodeName, attribute: a.name, reason: reason) }
            guard !a.name.isEmpty else { throw fail("attribute without a name") }
            guard a.refAttrName.isEmpty else { throw fail("references a function attribute (functions are not supported)") }
            guard let kind = ONNXAttributeKind(rawValue: a.type) else { throw fail("unknown attribute type \(a.type)") }
            switch kind {
            case .float: return .float(a.f)
            case .int: return .int(a.i)
            case .string: return .string(a.s)
            case .tensor:
                guard let t = a.t else { throw fail("TENSOR attribute without a tensor") }
                return .tensor(try tensor(t))
            case .graph:
                guard let g = a.g.first else { throw fail("GRAPH attribute without a graph") }
                return .graph(try graph(g, depth: depth + 1))
            case .floats: return .floats(a.floats)
            case .ints: return .ints(a.ints)
            case .strings: return .strings(a.strings)
            case .tensors: return .tensors(try a.tensors.map { try tensor($0) })
            case .graphs: return .graphs(try a.graphs.map { try graph($0, depth: depth + 1) })
            case .sparseTensor, .sparseTensors: throw fail("sparse tensor attributes are not supported")
            case .typeProto, .typeProtos: throw fail("type attributes are not supported")
            case .undefined: throw fail("attribute type is UNDEFINED")
            }
        }

        /// Shape and byte count of a tensor record, checked.
        func layout(_ t: TensorRecord, name: String) throws -> (DType, Shape, Int) {
            guard let dtype = ONNXTypes.dtype(of: t.dataType) else {
                throw ONNXError.unsupportedDataType(tensor: name, type: t.dataType)
            }
            guard t.dims.allSatisfy({ $0 >= 0 }) else { throw ONNXError.negativeDimension(tensor: name, dims: t.dims) }
            guard let shape = try? Shape(t.dims.map { Int($0) }), let bytes = dtype.byteCount(elements: shape.elementCount) else {
                throw ONNXError.shapeOverflow(tensor: name, dims: t.dims)
            }
            return (dtype, shape, bytes)
        }

        mutating func tensor(_ t: TensorRecord) throws -> Tensor {
            let name = t.name
            let (dtype, shape, bytes) = try layout(t, name: name)
            guard !t.hasSegment else { throw ONNXError.segmentedTensor(tensor: name) }
            let data: TensorData
            if t.dataLocation == ONNXTypes.externalDataLocation || !t.externalData.isEmpty {
                data = try externalData(t, name: name, bytes: bytes)
            } else if let raw = t.raw {
                switch raw {
                case .file(let range):
                    guard range.count == bytes else { throw ONNXError.rawDataLengthMismatch(tensor: name, expected: bytes, actual: range.count) }
                    guard let view = TensorData(buffer: buffer, offset: range.lowerBound, count: range.count) else {
                        throw ONNXError.decodeFailed
                    }
                    data = view
                case .bytes(let b):
                    guard b.count == bytes else { throw ONNXError.rawDataLengthMismatch(tensor: name, expected: bytes, actual: b.count) }
                    data = TensorData(bytes: b)
                }
            } else {
                data = try ONNXTypedData.decode(t, dtype: dtype, count: shape.elementCount, bytes: bytes)
            }
            do {
                return try Tensor(name: name, dtype: dtype, shape: shape, data: data)
            } catch {
                throw ONNXError.rawDataLengthMismatch(tensor: name, expected: bytes, actual: data.count)
            }
        }

        /// Resolves a tensor's external data inside the model's folder and maps it.
        mutating func externalData(_ t: TensorRecord, name: String, bytes: Int) throws -> TensorData {
            func invalid(_ reason: String) -> ONNXError { .externalDataInvalid(tensor: name, reason: reason) }
            var location: String?
            var offset = 0
            var length: Int?
            for (k, v) in t.externalData {
                switch k {
                case "location": location = v
                case "offset":
                    guard let o = Int(v), o >= 0, v.allSatisfy(\.isASCII) else { throw invalid("offset '\(v)' is not a non-negative integer") }
                    offset = o
                case "length":
                    guard let l = Int(v), l >= 0, v.allSatisfy(\.isASCII) else { throw invalid("length '\(v)' is not a non-negative integer") }
                    length = l
                default: break  // checksum (SHA-1) and unknown keys are informational
                }
            }
            guard let location, !location.isEmpty else { throw invalid("no location") }
            if let length, length != bytes {
                throw invalid("length \(length), but its type and dims need \(bytes) bytes")
            }
            let file = try externalFile(location, tensor: name)
            let (end, overflow) = offset.addingReportingOverflow(bytes)
            guard !overflow, end <= file.size else {
                throw ONNXError.externalDataOutOfRange(tensor: name, location: location, offset: offset, length: bytes, fileSize: file.size)
            }
            return TensorData(buffer: file.buffer, offset: offset, count: bytes)!
        }

        /// Maps an external data file once, through the resolver (which keeps it inside the
        /// model's folder).
        mutating func externalFile(_ location: String, tensor: String) throws -> InputFile {
            if let f = external[location] { return f }
            let file: InputFile
            do { file = try sideFiles.open(location) } catch let e as SideFileError {
                switch e {
                case .outsideFolder: throw ONNXError.externalDataEscapes(tensor: tensor, location: location)
                case .unavailable: throw ONNXError.externalDataFromStdin(tensor: tensor)
                }
            }
            external[location] = file
            externalOrder.append(file)
            return file
        }

        /// Expands a sparse initializer into a dense tensor (checked indices, bounded size).
        /// Mutating: external data files mapped for the values or indices are recorded like any
        /// other, so they count as inputs (and no output may replace them).
        mutating func densify(_ s: SparseRecord) throws -> Tensor {
            guard let values = s.values else { throw ONNXError.sparseInvalid(tensor: "?", reason: "no values") }
            let name = values.name
            func invalid(_ r: String) -> ONNXError { .sparseInvalid(tensor: name, reason: r) }
            guard !name.isEmpty else { throw invalid("the values tensor has no name") }
            guard let indices = s.indices else { throw invalid("no indices") }
            var dense = values
            dense.dims = s.dims
            let (dtype, shape, bytes) = try layout(dense, name: name)
            guard bytes <= ONNXLimits.maxDensifiedBytes else { throw ONNXError.tooLargeToDensify(tensor: name, bytes: bytes) }
            var valuesCopy = values
            valuesCopy.name = name
            let v = try tensor(valuesCopy)
            guard v.dtype == dtype, v.shape.rank == 1 else { throw invalid("values must be a 1-D tensor") }
            let nnz = v.elementCount
            var idx = indices
            idx.name = name + " (indices)"
            let ix = try tensor(idx)
            guard ix.dtype == .i64 else { throw invalid("indices must be int64") }
            let rank = shape.rank
            let linear: Bool
            if ix.shape.dims == [nnz] {
                linear = true
            } else if ix.shape.dims == [nnz, rank] {
                linear = false
            } else {
                throw invalid("indices have shape \(ix.shape), expected [\(nnz)] or [\(nnz), \(rank)]")
            }
            let width = dtype.bits / 8
            guard dtype.bits >= 8 else { throw invalid("4-bit sparse values are not supported") }
            let total = shape.elementCount
            let buffer = try ByteBuffer.build(count: bytes) { out in
                if bytes > 0 { out.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: bytes) }
                try ix.data.withUnsafeBytes { ib in
                    try v.data.withUnsafeBytes { vb in
                        var previous = -1
                        for k in 0..<nnz {
                            var position = 0
                            if linear {
                                position = Int(Int64(littleEndian: ib.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self)))
                            } else {
                                for d in 0..<rank {
                                    let i = Int(Int64(littleEndian: ib.loadUnaligned(fromByteOffset: 8 * (k * rank + d), as: Int64.self)))
                                    guard i >= 0, i < shape.dims[d] else { throw invalid("index \(i) out of range in dimension \(d)") }
                                    position = position * shape.dims[d] + i
                                }
                            }
                            guard position >= 0, position < total else { throw invalid("index \(position) out of range") }
                            guard position > previous else { throw invalid("indices are not strictly increasing at entry \(k)") }
                            previous = position
                            (out.baseAddress! + position * width).copyMemory(from: vb.baseAddress! + k * width, byteCount: width)
                        }
                    }
                }
            }
            return try Tensor(name: name, dtype: dtype, shape: shape, data: TensorData(buffer))
        }
    }
}
