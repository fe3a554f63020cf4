#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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

    /// Reads one file, or every shard of the split model it belongs to (`GGUFSplitReader`:
    /// the others through `sideFiles`), tensors in shard order; the split keys are dropped from
    /// the model's metadata (they describe the files, and a writer sets its own).
    func read(_ input: InputFile, sideFiles: any SideFileResolver) throws -> FormatReading {
        let file = try GGUFReader.read(input.buffer)
        var opened: [String: InputFile] = [:]
        let shards = try GGUFSplitReader.assemble(given: file, path: input.path) { name, number, count in
            let shard = try Self.openShard(name, number: number, count: count, sideFiles)
            opened[shard.path] = shard
            do { return GGUFSplitReader.Shard(path: shard.path, file: try GGUFReader.read(shard.buffer)) } catch {
                throw ModelFileError(path: shard.path, kind: .invalid(error))
            }
        }
        var model = Model()
        for shard in shards {
            // A tensor's error names the shard file that holds it.
            do { try Self.append(shard.file.tensors, to: &model) } catch { throw ModelFileError(path: shard.path, kind: .invalid(error)) }
        }
        model.metadata = GGUFModelMetadata.modelMetadata(shards[0].file.metadata.filter { !GGUFSplit.keys.contains($0.key) })
        // Chunk by chunk, each chunk's pages dropped once summed: the check must not leave the
        // whole file resident (the pass then touches each tensor's pages once, and drops them).
        var crc: UInt32 = 0
        for (k, shard) in shards.enumerated() {
            let buffer = shard.file.buffer
            let c = CRC32.checksums([buffer.bytes], releasing: buffer)[0]
            crc = k == 0 ? c : CRC32.combine(crc, c, lengthB: buffer.count)
        }
        let version = shards.count > 1 ? "GGUF v\(shards[0].file.version), split in \(shards.count) files" : "GGUF v\(file.version)"
        return FormatReading(model: model, formatVersion: version, fileCRC32: crc,
                             sideFiles: shards.compactMap { opened[$0.path] })
    }

    /// Appends one file's tensors: plain types as dense tensors, block types as `.ggml(type)`.
    static func append(_ tensors: [GGUFTensor], to model: inout Model) throws {
        for t in tensors {
            let shape = try Shape(t.info.shape)
            if let dtype = dtype(of: t.info.type) {
                try model.append(try Tensor(name: t.info.name, dtype: dtype, shape: shape, data: t.data))
            } else {
                try model.append(try Tensor(name: t.info.name, dtype: .f32, shape: shape, encoding: .ggml(t.info.type), data: t.data))
            }
        }
    }

    /// Maps shard `name` beside the model; a missing one is named as the shard it is.
    static func openShard(_ name: String, number: Int, count: Int, _ sideFiles: any SideFileResolver) throws -> InputFile {
        do { return try sideFiles.open(name) } catch FileError.cannotOpen(let path, let e) where e == ENOENT {
            throw GGUFSplitError.missingShard(file: path, number: number, count: count)
        }
    }

    func makeWriter(_ request: WriteRequest) throws -> any FormatWriter { try GGUFFileWriter(request) }

    /// GGUF keeps ggml blocks and dense tensors as they are and densifies sparse ones (the
    /// default, dense bytes, would report a ggml tensor at f32 size).
    func storedBytes(of tensor: Tensor, options: ModelWriteOptions) -> Int {
        if case .sparse = tensor.encoding { return tensor.denseBytes }
        return tensor.storedBytes
    }

    /// The plain ggml types and the dense dtypes they hold (ggml has no unsigned or 4-bit types).
    static let plainTypes: [(type: GGMLType, dtype: DType)] = [
        (.f32, .f32), (.f16, .f16), (.bf16, .bf16), (.f64, .f64), (.i8, .i8), (.i16, .i16), (.i32, .i32), (.i64, .i64),
    ]

    /// The dense dtype a plain ggml type holds (nil for the block types).
    static func dtype(of type: GGMLType) -> DType? { plainTypes.first { $0.type == type }?.dtype }

    /// The ggml type a tensor is written as.
    /// - Throws: `GGUFError.unrepresentable` for dtypes and encodings GGUF cannot hold.
    static func ggmlType(of t: Tensor) throws(GGUFError) -> GGMLType {
        switch t.encoding {
        case .ggml(let type): return type
        case .quantized, .sparseQuantized:
            throw .unrepresentable("tensor '\(t.name)' is quantized as \(t.encoding), which GGUF has no type for; dequantize it first (aicompress dequantize), or quantize into a ggml type (quantize --gguf)")
        case .dense, .sparse:
            guard let type = plainTypes.first(where: { $0.dtype == t.dtype })?.type else {
                throw .unrepresentable("tensor '\(t.name)' has dtype \(t.dtype), which ggml has no type for")
            }
            return type
        }
    }
}
