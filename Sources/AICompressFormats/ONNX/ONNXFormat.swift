import AICompressCore

extension ModelFormat {
    /// ONNX protobuf (spec/onnx.proto), with optional external data.
    public static let onnx = ModelFormat(ONNXFormat())
}

/// ONNX in the format registry: sniffed by its first ModelProto field, read with external data
/// from the model's folder, written at `finish` (protobuf needs every size first) from tensors taken one at a time (`WholeModelWriter`).
struct ONNXFormat: ModelFormatHandler {
    let id = "onnx"
    let extensions = [".onnx"]

    func sniff(_ bytes: UnsafeRawBufferPointer) -> Bool { ONNXReader.looksLikeONNX(bytes) }

    func read(_ input: InputFile, sideFiles: any SideFileResolver) throws -> FormatReading {
        let (model, info) = try ONNXReader.read(input.buffer, sideFiles: sideFiles)
        let opset = info.opsets.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }?.version
        let version = "IR \(info.irVersion.map(String.init) ?? "?")" + (opset.map { ", opset \($0)" } ?? "")
        return FormatReading(model: model, formatVersion: version, fileCRC32: CRC32.checksums([input.buffer.bytes], releasing: input.buffer)[0],
                             sideFiles: info.externalFiles)
    }

    /// Sparse tensors dense (or as sparse_initializer), quantized ones as QDQ initializers.
    func storedBytes(of tensor: Tensor, options: ModelWriteOptions) -> Int {
        ONNXStoredSize.bytes(of: tensor, sparseInitializers: options.onnx.sparseInitializers)
    }

    /// With `options.onnx.externalData`, tensor bytes go to `<path>.data`, which goes into place
    /// before the model that refers to it (and is not written at all when no tensor went there).
    func makeWriter(_ request: WriteRequest) throws -> any FormatWriter {
        WholeModelWriter(path: request.path, storedForm: Self.storedForm) { model, outputs in
            let path = request.path, options = request.options.onnx, durable = request.options.durable
            var side: OutputFile? = nil
            if options.externalData {
                guard path != "-" else { throw ONNXError.unrepresentable("external data needs a file name, not standard output") }
                side = try outputs.create(path + ".data", durable: durable)
            }
            var out = try outputs.create(path, durable: durable)
            if let progress = request.progress {
                out.onWrite = progress
                side?.onWrite = { [out] in progress($0 + out.bytesWritten) }
            }
            let location = path.split(separator: "/").last.map(String.init).map { $0 + ".data" }
            try ONNXWriter.write(model, to: &out, options: options, external: &side, externalLocation: location)
            if let side, side.bytesWritten == 0 { outputs.discard(side) }
        }
    }
}
