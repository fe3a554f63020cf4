import AICompressCore

/// Plain Swift copies of the decoded ONNX messages, so that no C type leaves ONNXProtobuf.swift.
/// Field names follow onnx.proto.
struct TensorRecord {
    /// Where a tensor's raw_data lives: in the mapped .onnx file (zero copy) or copied.
    enum RawData {
        case file(Range<Int>)
        case bytes([UInt8])
    }

    var name = ""
    var dims: [Int64] = []
    var dataType: Int32 = 0
    var raw: RawData?
    var floatData: [Float] = []
    var int32Data: [Int32] = []
    var int64Data: [Int64] = []
    var doubleData: [Double] = []
    var uint64Data: [UInt64] = []
    var stringCount = 0
    var stringData: [[UInt8]] = []
    var externalData: [(key: String, value: String)] = []
    var dataLocation: Int32 = 0
    var hasSegment = false
}

struct SparseRecord {
    var values: TensorRecord?
    var indices: TensorRecord?
    var dims: [Int64] = []
}

struct AttributeRecord {
    var name = ""
    var type: Int32 = 0
    var refAttrName = ""
    var f: Float = 0
    var i: Int64 = 0
    var s: [UInt8] = []
    var t: TensorRecord?
    /// The GRAPH value (0 or 1 element: records cannot contain themselves directly).
    var g: [GraphRecord] = []
    var hasSparseTensor = false
    var floats: [Float] = []
    var ints: [Int64] = []
    var strings: [[UInt8]] = []
    var tensors: [TensorRecord] = []
    var graphs: [GraphRecord] = []
    var sparseTensorCount = 0
}

struct NodeRecord {
    var inputs: [String] = []
    var outputs: [String] = []
    var name = ""
    var opType = ""
    var domain = ""
    var attributes: [AttributeRecord] = []
}

struct GraphRecord {
    var name = ""
    var nodes: [NodeRecord] = []
    var initializers: [TensorRecord] = []
    var sparseInitializers: [SparseRecord] = []
    var docString = ""
    var inputs: [ValueInfo] = []
    var outputs: [ValueInfo] = []
    var valueInfo: [ValueInfo] = []
}

struct ModelRecord {
    var irVersion: Int64?
    var opsets: [OpsetImport] = []
    var producerName: String?
    var producerVersion: String?
    var domain: String?
    var modelVersion: Int64?
    var docString: String?
    var graph: GraphRecord?
    var metadataProps: [(key: String, value: String)] = []
}
