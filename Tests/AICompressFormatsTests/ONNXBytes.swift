import AICompressCore
@testable import AICompressFormats

/// ONNX messages built field by field (field numbers from spec/onnx.proto), for inputs the
/// reader must refuse. Nothing here goes through ONNXWriter's checks.
enum ONNXBytes {
    /// A TensorProto.
    static func tensor(_ name: String?, dims: [Int64], type: Int32 = ONNXElementType.float, raw: [UInt8]? = nil,
                       floats: [Float] = [], int32s: [Int32] = [], external: [(String, String)] = [],
                       dataLocation: Int32? = nil, segment: Bool = false) -> ProtoMessage {
        var m = ProtoMessage()
        for d in dims { m.int64(1, d) }
        m.int32(2, type)
        if segment {
            var s = ProtoMessage()
            s.int64(1, 0)
            s.int64(2, 1)
            m.message(3, s)
        }
        for f in floats { m.float(4, f) }
        for i in int32s { m.int32(5, i) }
        if let name { m.string(8, name) }
        if let raw { m.bytes(9, raw) }
        for (k, v) in external {
            var e = ProtoMessage()
            e.string(1, k)
            e.string(2, v)
            m.message(13, e)
        }
        if let dataLocation { m.int32(14, dataLocation) }
        return m
    }

    /// A SparseTensorProto.
    static func sparse(values: ProtoMessage?, indices: ProtoMessage?, dims: [Int64]) -> ProtoMessage {
        var m = ProtoMessage()
        if let values { m.message(1, values) }
        if let indices { m.message(2, indices) }
        for d in dims { m.int64(3, d) }
        return m
    }

    /// A NodeProto `op` named `name` with one attribute of AttributeType code `type`.
    static func node(_ name: String, op: String, attribute: String, type: Int32) -> ProtoMessage {
        var a = ProtoMessage()
        a.string(1, attribute)
        a.int32(20, type)
        var n = ProtoMessage()
        n.string(3, name)
        n.string(4, op)
        n.message(5, a)
        return n
    }

    /// A ModelProto (IR 8, opset 17) whose graph holds these initializers and nodes; without
    /// `graph` there is no graph at all. `extra` adds fields after the graph.
    static func model(initializers: [ProtoMessage] = [], sparse: [ProtoMessage] = [], nodes: [ProtoMessage] = [],
                      graph: Bool = true, extra: (inout ProtoMessage) -> Void = { _ in }) -> [UInt8] {
        var m = ProtoMessage()
        m.int64(1, 8)
        var opset = ProtoMessage()
        opset.string(1, "")
        opset.int64(2, 17)
        m.message(8, opset)
        if graph {
            var g = ProtoMessage()
            for n in nodes { g.message(1, n) }
            g.string(2, "g")
            for t in initializers { g.message(5, t) }
            for s in sparse { g.message(15, s) }
            m.message(7, g)
        }
        extra(&m)
        var sink = MemorySink()
        try? m.write(to: &sink)
        return sink.bytes
    }

    /// Little-endian bytes of `values`.
    static func le<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    }

    /// Little-endian bytes of f32 `values`.
    static func le(_ values: [Float]) -> [UInt8] { le(values.map(\.bitPattern)) }
}

/// Reads ONNX bytes held in memory (no folder: external data is refused).
func readONNX(_ bytes: [UInt8], sideFiles: any SideFileResolver = NoSideFiles()) throws -> Model {
    try ONNXReader.read(bytes.withUnsafeBytes { ByteBuffer.copying($0) }, sideFiles: sideFiles).model
}
