import AICompressCore

/// One tensor's entry in a GGUF file's index.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The name (at most 63 bytes of UTF-8).
    public let name: String
    /// The ggml type of the stored bytes.
    public let type: GGMLType
    /// Dimensions in ggml order, fastest-varying first (`[in, out]` for a `[out, in]` weight).
    public let dims: [UInt64]
    /// Offset of the data from the start of the data section (a multiple of the alignment).
    public let offset: UInt64
    /// Bytes of data, from the type and dims.
    public let byteCount: Int

    /// The row-major shape, outermost first: `dims` reversed, so a GGUF tensor has the same
    /// shape as the same weight read from safetensors.
    public var shape: [Int] { dims.reversed().map { Int($0) } }

    /// Number of values.
    public var elementCount: Int { dims.reduce(1) { $0 * Int($1) } }

    /// An entry; `byteCount` follows from the type and dims (nil when it overflows or the row,
    /// `dims[0]`, is not a whole number of blocks).
    public init?(name: String, type: GGMLType, dims: [UInt64], offset: UInt64) {
        var count: Int = 1
        for d in dims {
            guard let di = Int(exactly: d) else { return nil }
            let (p, o) = count.multipliedReportingOverflow(by: di)
            guard !o else { return nil }
            count = p
        }
        guard (dims.first ?? 1) % UInt64(type.blockSize) == 0, let bytes = type.byteCount(elements: count) else { return nil }
        self.name = name
        self.type = type
        self.dims = dims
        self.offset = offset
        self.byteCount = bytes
    }

    /// The entry of a tensor with a row-major `shape` (reversed into ggml dims).
    public init?(name: String, type: GGMLType, shape: [Int], offset: UInt64) {
        guard shape.allSatisfy({ $0 >= 0 }) else { return nil }
        self.init(name: name, type: type, dims: shape.reversed().map { UInt64($0) }, offset: offset)
    }
}

/// One tensor of a GGUF file: its entry and a zero-copy view of its bytes.
public struct GGUFTensor: Sendable {
    /// The index entry.
    public let info: GGUFTensorInfo
    /// The stored bytes, a view of the file's buffer.
    public let data: TensorData
}

/// A parsed GGUF file: header, metadata in file order, tensors in index order with zero-copy
/// views of their bytes.
public struct GGUFFile: Sendable {
    /// The format version (2 or 3).
    public let version: UInt32
    /// The metadata pairs in file order.
    public let metadata: [GGUFKeyValue]
    /// The tensors in index order.
    public let tensors: [GGUFTensor]
    /// The data alignment (`general.alignment`, 32 when absent).
    public let alignment: Int
    /// Byte offset of the data section in the file.
    public let dataOffset: Int
    /// The file's bytes, which the tensor views keep alive.
    public let buffer: ByteBuffer

    /// The value of metadata key `key`.
    public subscript(key: String) -> GGUFValue? { metadata.first { $0.key == key }?.value }

    /// The tensor named `name`.
    public func tensor(named name: String) -> GGUFTensor? { tensors.first { $0.info.name == name } }
}
