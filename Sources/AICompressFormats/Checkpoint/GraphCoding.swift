import AICompressCore

/// Encoding of the optional graph section (spec §6).
enum GraphCoding {
    typealias L = CheckpointLayout

    // MARK: Writing

    static func encode(_ g: Graph, into w: inout IndexWriter, depth: Int = 1) throws(CheckpointError) {
        guard depth <= L.maxGraphDepth else { throw .unrepresentable("graphs nested more than \(L.maxGraphDepth) deep") }
        try w.string(g.name, "graph name", limit: L.maxStringBytes)
        try w.count(g.opsets.count, "opset imports", limit: Int(UInt32.max))
        for o in g.opsets {
            try w.string(o.domain, "opset domain", limit: L.maxStringBytes)
            w.i64(o.version)
        }
        for list in [g.inputs, g.outputs, g.valueInfo] {
            try w.count(list.count, "value infos", limit: Int(UInt32.max))
            for v in list { try encode(v, into: &w) }
        }
        try w.count(g.nodes.count, "nodes", limit: Int(UInt32.max))
        for n in g.nodes {
            try w.string(n.name, "node name", limit: L.maxStringBytes)
            guard !n.opType.isEmpty else { throw .unrepresentable("node '\(n.name)' has an empty op type") }
            try w.string(n.opType, "op type", limit: L.maxStringBytes)
            try w.string(n.domain, "node domain", limit: L.maxStringBytes)
            for names in [n.inputs, n.outputs] {
                try w.count(names.count, "node inputs/outputs", limit: Int(UInt32.max))
                for s in names { try w.string(s, "value name", limit: L.maxStringBytes) }
            }
            try w.count(n.attributes.count, "attributes", limit: Int(UInt32.max))
            for a in n.attributes { try encode(a, into: &w, depth: depth) }
        }
        guard depth > 1 || g.initializers.isEmpty else {
            throw .unrepresentable("the top-level graph's initializers must be the model's tensors")
        }
        try w.count(g.initializers.count, "initializers", limit: Int(UInt32.max))
        for t in g.initializers { try encode(t, into: &w) }
    }

    static func encode(_ v: ValueInfo, into w: inout IndexWriter) throws(CheckpointError) {
        try w.string(v.name, "value name", limit: L.maxStringBytes)
        try encode(v.type, of: v.name, into: &w, depth: 1)
    }

    static func encode(_ t: ValueType, of name: String, into w: inout IndexWriter, depth: Int) throws(CheckpointError) {
        guard depth <= L.maxTypeDepth else { throw .unrepresentable("type of value '\(name)' nested more than \(L.maxTypeDepth) deep") }
        switch t {
        case .unspecified:
            w.u8(0)
        case .tensor(let e, let shape), .sparseTensor(let e, let shape):
            if case .tensor = t { w.u8(1) } else { w.u8(2) }
            w.u32(UInt32(bitPattern: e))
            guard let shape else {
                w.u8(0)
                return
            }
            w.u8(1)
            try w.count(shape.count, "dimensions", limit: L.maxRank)
            for d in shape {
                switch d {
                case .unknown: w.u8(0)
                case .fixed(let x):
                    guard x >= 0 else { throw .unrepresentable("value '\(name)' has a negative dimension \(x)") }
                    w.u8(1)
                    w.i64(x)
                case .symbolic(let s):
                    w.u8(2)
                    try w.string(s, "dimension name", limit: L.maxStringBytes)
                }
            }
        case .sequence(let inner):
            w.u8(3)
            try encode(inner, of: name, into: &w, depth: depth + 1)
        case .map(let key, let value):
            w.u8(4)
            w.u32(UInt32(bitPattern: key))
            try encode(value, of: name, into: &w, depth: depth + 1)
        case .optional(let inner):
            w.u8(5)
            try encode(inner, of: name, into: &w, depth: depth + 1)
        }
    }

    static func encode(_ a: Attribute, into w: inout IndexWriter, depth: Int) throws(CheckpointError) {
        guard !a.name.isEmpty else { throw .unrepresentable("an attribute has an empty name") }
        try w.string(a.name, "attribute name", limit: L.maxStringBytes)
        w.u8(a.value.kindCode)
        switch a.value {
        case .float(let f): w.f32(f)
        case .int(let i): w.i64(i)
        case .string(let s): try w.bytesField(s, "string attribute", limit: L.maxStringBytes)
        case .tensor(let t): try encode(t, into: &w)
        case .graph(let g): try encode(g, into: &w, depth: depth + 1)
        case .floats(let fs):
            try w.count(fs.count, "floats", limit: Int(UInt32.max))
            fs.forEach { w.f32($0) }
        case .ints(let xs):
            try w.count(xs.count, "ints", limit: Int(UInt32.max))
            xs.forEach { w.i64($0) }
        case .strings(let ss):
            try w.count(ss.count, "strings", limit: Int(UInt32.max))
            for s in ss { try w.bytesField(s, "string attribute", limit: L.maxStringBytes) }
        case .tensors(let ts):
            try w.count(ts.count, "tensors", limit: Int(UInt32.max))
            for t in ts { try encode(t, into: &w) }
        case .graphs(let gs):
            try w.count(gs.count, "graphs", limit: Int(UInt32.max))
            for g in gs { try encode(g, into: &w, depth: depth + 1) }
        }
    }

    /// An inline tensor (attribute value): always dense.
    static func encode(_ t: Tensor, into w: inout IndexWriter) throws(CheckpointError) {
        guard t.encoding == .dense else { throw .unrepresentable("attribute tensor '\(t.name)' is not dense") }
        try w.string(t.name, "tensor name", limit: L.maxStringBytes)
        w.u8(t.dtype.rawValue)
        guard t.shape.rank <= L.maxRank else { throw .unrepresentable("tensor '\(t.name)' has rank \(t.shape.rank)") }
        w.u8(UInt8(t.shape.rank))
        t.shape.dims.forEach { w.u64(UInt64($0)) }
        w.u64(UInt64(t.data.count))
        t.data.withUnsafeBytes { w.bytes.append(contentsOf: $0) }
    }

    // MARK: Reading

    static func decode(_ r: inout IndexReader, depth: Int = 1) throws(CheckpointError) -> Graph {
        guard depth <= L.maxGraphDepth else {
            throw .limitExceeded(what: "graph nesting depth", value: UInt64(depth), limit: UInt64(L.maxGraphDepth), offset: r.offset)
        }
        var g = Graph()
        g.name = try r.string("graph name", limit: L.maxStringBytes)
        let opsetCount = try r.count("opset imports", wide: false, limit: Int(UInt32.max), minSize: 12)
        for _ in 0..<opsetCount {
            let domain = try r.string("opset domain", limit: L.maxStringBytes)
            g.opsets.append(OpsetImport(domain: domain, version: try r.i64("opset version")))
        }
        g.inputs = try decodeValueInfos(&r, "graph inputs")
        g.outputs = try decodeValueInfos(&r, "graph outputs")
        g.valueInfo = try decodeValueInfos(&r, "value infos")
        let nodeCount = try r.count("nodes", wide: false, limit: Int(UInt32.max), minSize: 24)
        for _ in 0..<nodeCount {
            let name = try r.string("node name", limit: L.maxStringBytes)
            let opAt = r.offset
            let op = try r.string("op type", limit: L.maxStringBytes)
            guard !op.isEmpty else { throw .emptyName(what: "op type", offset: opAt) }
            let domain = try r.string("node domain", limit: L.maxStringBytes)
            let inputs = try decodeNames(&r, "node inputs")
            let outputs = try decodeNames(&r, "node outputs")
            let attrCount = try r.count("attributes", wide: false, limit: Int(UInt32.max), minSize: 6)
            var attributes: [Attribute] = []
            for _ in 0..<attrCount { attributes.append(try decodeAttribute(&r, depth: depth)) }
            g.nodes.append(Node(name: name, opType: op, domain: domain, inputs: inputs, outputs: outputs, attributes: attributes))
        }
        let initAt = r.offset
        let initCount = try r.count("initializers", wide: false, limit: Int(UInt32.max), minSize: 14)
        guard depth > 1 || initCount == 0 else {
            throw .invalidGraph(reason: "the top-level graph lists initializers (they must be the file's tensors)", offset: initAt)
        }
        for _ in 0..<initCount { g.initializers.append(try decodeTensor(&r)) }
        return g
    }

    static func decodeNames(_ r: inout IndexReader, _ what: String) throws(CheckpointError) -> [String] {
        let n = try r.count(what, wide: false, limit: Int(UInt32.max), minSize: 4)
        var names: [String] = []
        for _ in 0..<n { names.append(try r.string("value name", limit: L.maxStringBytes)) }
        return names
    }

    static func decodeValueInfos(_ r: inout IndexReader, _ what: String) throws(CheckpointError) -> [ValueInfo] {
        let n = try r.count(what, wide: false, limit: Int(UInt32.max), minSize: 5)
        var out: [ValueInfo] = []
        for _ in 0..<n {
            let name = try r.string("value name", limit: L.maxStringBytes)
            out.append(ValueInfo(name: name, type: try decodeType(&r, of: name, depth: 1)))
        }
        return out
    }

    static func decodeType(_ r: inout IndexReader, of name: String, depth: Int) throws(CheckpointError) -> ValueType {
        let kindAt = r.offset
        guard depth <= L.maxTypeDepth else {
            throw .limitExceeded(what: "type nesting depth of value '\(name)'", value: UInt64(depth),
                                 limit: UInt64(L.maxTypeDepth), offset: kindAt)
        }
        let kind = try r.u8("type kind")
        switch kind {
        case 0:
            return .unspecified
        case 1, 2:
            let elemType = Int32(bitPattern: try r.u32("element type"))
            let flagAt = r.offset
            let shape: [Dimension]?
            switch try r.u8("has_shape") {
            case 0: shape = nil
            case 1: shape = try decodeShape(&r, of: name)
            case let f: throw .invalidGraph(reason: "has_shape flag \(f) of value '\(name)' is neither 0 nor 1", offset: flagAt)
            }
            return kind == 1 ? .tensor(elemType: elemType, shape: shape) : .sparseTensor(elemType: elemType, shape: shape)
        case 3:
            return .sequence(try decodeType(&r, of: name, depth: depth + 1))
        case 4:
            let key = Int32(bitPattern: try r.u32("map key type"))
            return .map(keyType: key, value: try decodeType(&r, of: name, depth: depth + 1))
        case 5:
            return .optional(try decodeType(&r, of: name, depth: depth + 1))
        default:
            throw .invalidGraph(reason: "unknown type kind \(kind) of value '\(name)'", offset: kindAt)
        }
    }

    static func decodeShape(_ r: inout IndexReader, of name: String) throws(CheckpointError) -> [Dimension] {
        let rank = try r.count("rank of value '\(name)'", wide: false, limit: L.maxRank, minSize: 1)
        var dims: [Dimension] = []
        for _ in 0..<rank {
            let kindAt = r.offset
            switch try r.u8("dimension kind") {
            case 0: dims.append(.unknown)
            case 1:
                let v = try r.i64("dimension")
                guard v >= 0 else { throw .invalidGraph(reason: "value '\(name)' has negative dimension \(v)", offset: kindAt + 1) }
                dims.append(.fixed(v))
            case 2: dims.append(.symbolic(try r.string("dimension name", limit: L.maxStringBytes)))
            case let k: throw .invalidGraph(reason: "unknown dimension kind \(k) in value '\(name)'", offset: kindAt)
            }
        }
        return dims
    }

    static func decodeAttribute(_ r: inout IndexReader, depth: Int) throws(CheckpointError) -> Attribute {
        let nameAt = r.offset
        let name = try r.string("attribute name", limit: L.maxStringBytes)
        guard !name.isEmpty else { throw .emptyName(what: "attribute name", offset: nameAt) }
        let kindAt = r.offset
        let kind = try r.u8("attribute kind")
        let value: AttributeValue
        switch kind {
        case 1: value = .float(try r.f32("float attribute"))
        case 2: value = .int(try r.i64("int attribute"))
        case 3: value = .string(try r.bytesField("string attribute", limit: L.maxStringBytes))
        case 4: value = .tensor(try decodeTensor(&r))
        case 5: value = .graph(try decode(&r, depth: depth + 1))
        case 6:
            let n = try r.count("floats", wide: false, limit: Int(UInt32.max), minSize: 4)
            var fs: [Float] = []
            for _ in 0..<n { fs.append(try r.f32("float")) }
            value = .floats(fs)
        case 7:
            let n = try r.count("ints", wide: false, limit: Int(UInt32.max), minSize: 8)
            var xs: [Int64] = []
            for _ in 0..<n { xs.append(try r.i64("int")) }
            value = .ints(xs)
        case 8:
            let n = try r.count("strings", wide: false, limit: Int(UInt32.max), minSize: 4)
            var ss: [[UInt8]] = []
            for _ in 0..<n { ss.append(try r.bytesField("string attribute", limit: L.maxStringBytes)) }
            value = .strings(ss)
        case 9:
            let n = try r.count("tensors", wide: false, limit: Int(UInt32.max), minSize: 14)
            var ts: [Tensor] = []
            for _ in 0..<n { ts.append(try decodeTensor(&r)) }
            value = .tensors(ts)
        case 10:
            let n = try r.count("graphs", wide: false, limit: Int(UInt32.max), minSize: 20)
            var gs: [Graph] = []
            for _ in 0..<n { gs.append(try decode(&r, depth: depth + 1)) }
            value = .graphs(gs)
        default:
            throw .invalidGraph(reason: "attribute '\(name)' has unknown kind \(kind)", offset: kindAt)
        }
        return Attribute(name: name, value: value)
    }

    static func decodeTensor(_ r: inout IndexReader) throws(CheckpointError) -> Tensor {
        let at = r.offset
        let name = try r.string("tensor name", limit: L.maxStringBytes)
        let label = name.isEmpty ? "(attribute)" : name
        let dtypeAt = r.offset
        let code = try r.u8("dtype")
        guard let dtype = DType(rawValue: code) else { throw .unknownDType(tensor: label, code: code, offset: dtypeAt) }
        let rankAt = r.offset
        let rank = Int(try r.u8("rank"))
        guard rank <= L.maxRank else {
            throw .limitExceeded(what: "rank of tensor '\(label)'", value: UInt64(rank), limit: UInt64(L.maxRank), offset: rankAt)
        }
        let (_, shape, expected) = try CheckpointReader.readShape(&r, rank: rank, dtype: dtype, tensor: label, entryOffset: at)
        let lengthAt = r.offset
        let length = try r.u64("tensor data length")
        guard length == UInt64(expected) else {
            throw .dataLengthMismatch(tensor: label, expected: expected, actual: length, offset: lengthAt)
        }
        let raw = try r.rawBytes(expected, "data of tensor '\(label)'")
        do {
            return try Tensor(name: name, dtype: dtype, shape: shape, data: TensorData(bytes: raw))
        } catch {
            throw .invalidGraph(reason: "tensor '\(label)': \(error)", offset: at)
        }
    }
}

