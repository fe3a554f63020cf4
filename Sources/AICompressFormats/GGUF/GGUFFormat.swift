import AICompressCore

extension ModelFormat {
    /// llama.cpp's GGUF (ggml docs/gguf.md), versions 2 and 3.
    public static let gguf = ModelFormat(GGUFFormat())
}

extension GGUFError: FormatError {}

/// GGUF in the format registry: sniffed by its magic; plain tensor types read as dense tensors,
/// block types as `.ggml(type)` tensors; every metadata pair kept losslessly
/// (`GGUFModelMetadata`); written as a stream through a spool (`GGUFFileWriter`).
struct GGUFFormat: ModelFormatHandler {
    let id = "gguf"
    let extensions = [".gguf"]

    func sniff(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes.loadUnaligned(as: UInt32.self) == GGUFReader.magic.littleEndian
    }

    func read(_ input: InputFile, sideFiles: any SideFileResolver) throws -> FormatReading {
        let file = try GGUFReader.read(input.buffer)
        var model = Model()
        for t in file.tensors {
            let shape = try Shape(t.info.shape)
            if let dtype = GGUFFormat.dtype(of: t.info.type) {
                try model.append(try Tensor(name: t.info.name, dtype: dtype, shape: shape, data: t.data))
            } else {
                try model.append(try Tensor(name: t.info.name, dtype: .f32, shape: shape, encoding: .ggml(t.info.type), data: t.data))
            }
        }
        model.metadata = GGUFModelMetadata.modelMetadata(file.metadata)
        let crc = input.buffer.withUnsafeBytes { CRC32.checksum($0) }
        return FormatReading(model: model, formatVersion: "GGUF v\(file.version)", fileCRC32: crc)
    }

    func makeWriter(_ request: WriteRequest) throws -> any FormatWriter { try GGUFFileWriter(request) }

    /// The dense dtype a plain ggml type holds (nil for the block types).
    static func dtype(of type: GGMLType) -> DType? {
        switch type {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .f64: return .f64
        case .i8: return .i8
        case .i16: return .i16
        case .i32: return .i32
        case .i64: return .i64
        default: return nil
        }
    }

    /// The ggml type a tensor is written as.
    /// - Throws: `GGUFError.unrepresentable` for dtypes and encodings GGUF cannot hold.
    static func ggmlType(of t: Tensor) throws(GGUFError) -> GGMLType {
        switch t.encoding {
        case .ggml(let type): return type
        case .quantized:
            throw .unrepresentable("tensor '\(t.name)' is quantized as \(t.encoding), which GGUF has no type for; dequantize it first (aicompress dequantize), or quantize into a ggml type (quantize --gguf)")
        case .dense, .sparse:
            switch t.dtype {
            case .f32: return .f32
            case .f16: return .f16
            case .bf16: return .bf16
            case .f64: return .f64
            case .i8: return .i8
            case .i16: return .i16
            case .i32: return .i32
            case .i64: return .i64
            default: throw .unrepresentable("tensor '\(t.name)' has dtype \(t.dtype), which ggml has no type for")
            }
        }
    }
}
