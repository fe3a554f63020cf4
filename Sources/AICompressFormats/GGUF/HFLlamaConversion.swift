#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AICompressCore

/// Hugging Face LLaMA-family checkpoints to a GGUF that llama.cpp runs, as its
/// convert_hf_to_gguf.py does for `LlamaForCausalLM`, `MistralForCausalLM`,
/// `Qwen2ForCausalLM`, `Qwen3ForCausalLM` and `Phi3ForCausalLM`: tensor names mapped (`HFLlamaTensorNames`), q/k rows permuted for the
/// `llama` rope (`HFLlamaPermutation`, applied by the GGUF writer as it copies each tensor out),
/// 1-D tensors (norms, biases) widened to f32, the architecture keys from config.json and the
/// vocabulary from tokenizer.json (`HFLlamaTokenizer`).
///
/// Applied when a safetensors model (single file or sharded) with a config.json beside it is
/// written as GGUF; without config.json the names are kept, as for any other model.
public enum HFLlamaConversion {
    /// Side-file size limits, checked before parsing (the largest real ones: a Llama 3
    /// tokenizer.json of 9 MB, chat templates of tens of kB).
    public static let configLimit = 1 << 20
    /// tokenizer.json.
    public static let tokenizerLimit = 64 << 20
    /// tokenizer_config.json and chat_template.jinja.
    public static let tokenizerConfigLimit = 16 << 20

    /// `loaded` as it is written in `format`: converted when it is a safetensors checkpoint with
    /// a config.json beside it and the output is GGUF; unchanged otherwise. The side files read
    /// join the input identities (no output may replace them).
    /// - Throws: `HFLlamaError`, `FileError` for a side file that exists but cannot be read.
    public static func prepared(_ loaded: LoadedModel, for format: ModelFormat) throws -> LoadedModel {
        guard format == .gguf, loaded.format == .safetensors, loaded.input.path != "-" else { return loaded }
        let folder = ContainedPath.folder(of: loaded.input.path)
        let side = FolderSideFiles(besides: loaded.input.path)
        guard let config = try open(side, "config.json", folder: folder, limit: configLimit) else { return loaded }
        guard let tokenizer = try open(side, "tokenizer.json", folder: folder, limit: tokenizerLimit) else {
            throw HFLlamaError.missingTokenizer(folder: folder)
        }
        let tokenizerConfig = try open(side, "tokenizer_config.json", folder: folder, limit: tokenizerConfigLimit)
        let jinja = try open(side, "chat_template.jinja", folder: folder, limit: tokenizerConfigLimit)
        let files = [config, tokenizer] + [tokenizerConfig, jinja].compactMap { $0 }
        var out = loaded
        do {
            out.model = try convert(
                loaded.model, config: try parse(config), configFile: config.path,
                tokenizer: try parse(tokenizer), tokenizerFile: tokenizer.path,
                tokenizerConfig: try tokenizerConfig.map(parse), tokenizerConfigFile: tokenizerConfig?.path ?? "tokenizer_config.json",
                chatTemplate: jinja.map { String(decoding: $0.buffer.bytes, as: UTF8.self) }, name: folderName(folder))
        } catch let e as HFLlamaError where e.isAboutTensors {
            throw ModelFileError(path: loaded.input.path, kind: .invalid(e))
        }
        out.identities += files.compactMap(\.identity)
        return out
    }

    /// The converted model: tensors renamed (and checked against the config), the GGUF pairs in
    /// `gguf.kv`, the tensors to permute in `HFLlamaPermutation.metadataKey`.
    /// - Throws: `HFLlamaError`.
    public static func convert(_ model: Model, config configJSON: JSONValue, configFile: String,
                               tokenizer: JSONValue, tokenizerFile: String,
                               tokenizerConfig: JSONValue?, tokenizerConfigFile: String,
                               chatTemplate: String?, name: String) throws -> Model {
        let config = try HFLlamaConfig(configJSON, file: configFile)
        let shapes = HFLlamaShapes(config)
        var out = Model()
        var permute = [String: Int](), seen = Set<String>(), weightTypes = [DType: Int]()
        for t in model.tensors {
            guard let mapping = HFLlamaTensorNames.map(t.name) else { throw HFLlamaError.unmappedTensor(t.name) }
            guard case .tensor(let name, let layer, let role) = mapping else { continue }
            // llama.cpp's loaders refuse tensors their graph does not use: q/k norms outside
            // qwen3, fused projections outside phi3 and separate ones inside it, and phi3's
            // biases other than the fused qkv's.
            if !HFLlamaTensorNames.blockHolds(role, config.architecture) { throw HFLlamaError.unmappedTensor(t.name) }
            if config.architecture.fusesProjections, name.hasSuffix(".bias"), role != .attnQKV { throw HFLlamaError.unmappedTensor(t.name) }
            if let layer, layer >= config.blockCount {
                throw HFLlamaError.unexpectedShape(tensor: t.name, shape: t.shape.dims, expected: "\(config.blockCount) layers (num_hidden_layers)")
            }
            let isBias = name.hasSuffix(".bias")
            let expected = shapes.shape(role, bias: isBias)
            guard t.shape.dims == expected else {
                throw HFLlamaError.unexpectedShape(tensor: t.name, shape: t.shape.dims, expected: "\(expected)")
            }
            guard [.f32, .f16, .bf16].contains(t.dtype) else { throw HFLlamaError.unsupportedDType(tensor: t.name, dtype: t.dtype) }
            var renamed = t
            renamed.name = name
            // ggml computes norms and biases in f32 (the converter writes every 1-D tensor so);
            // widening f16/bf16 is exact.
            if t.shape.rank == 1, t.dtype != .f32, t.isDense {
                renamed = try Tensor(name: name, shape: t.shape, floats: t.floatValues())
            } else if t.shape.rank == 2 {
                weightTypes[t.dtype, default: 0] += 1
            }
            if config.architecture.permutesQK, role == .attnQ || role == .attnK {
                permute[name] = role == .attnQ ? config.headCount : config.headCountKV
            }
            seen.insert(name)
            try out.append(renamed)
        }
        if let name = shapes.firstMissing(seen, tied: config.tiedEmbeddings) { throw HFLlamaError.missingTensor(hfName(name, config.architecture)) }
        let fileType = fileTypeID(weightTypes)
        var pairs = HFLlamaKeys.pairs(config, name: name, fileType: fileType)
        pairs += try HFLlamaTokenizer.pairs(HFLlamaTokenizer.Input(
            tokenizer: tokenizer, tokenizerFile: tokenizerFile, tokenizerConfig: tokenizerConfig,
            tokenizerConfigFile: tokenizerConfigFile, chatTemplate: chatTemplate,
            configTokenIDs: config.specialTokenIDs, vocabSize: config.vocabSize))
        var metadata = model.metadata
        metadata[GGUFModelMetadata.kvKey] = Base64.encode(GGUFWriter.encodeMetadata(pairs))
        if !permute.isEmpty { metadata[HFLlamaPermutation.metadataKey] = HFLlamaPermutation.encode(permute) }
        out.metadata = metadata
        out.graph = model.graph
        return out
    }

    /// `llama_ftype` of the commonest 2-D weight dtype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32.
    static func fileTypeID(_ counts: [DType: Int]) -> UInt32 {
        let top = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key.description > $1.key.description) }?.key
        switch top {
        case .f16?: return 1
        case .bf16?: return 32
        default: return 0
        }
    }

    /// The Hugging Face name of a required llama.cpp tensor (for the missing-tensor message).
    static func hfName(_ gguf: String, _ architecture: HFLlamaArchitecture) -> String {
        switch gguf {
        case "token_embd.weight": return "model.embed_tokens.weight"
        case "output_norm.weight": return "model.norm.weight"
        case "output.weight": return "lm_head.weight (tie_word_embeddings is false)"
        default:
            let parts = gguf.split(separator: ".")
            guard parts.count == 4, let module = HFLlamaTensorNames.blockModules.first(where: { $0.role.tensorStem == parts[2] && HFLlamaTensorNames.blockHolds($0.role, architecture) })?.hf else { return gguf }
            return "model.layers.\(parts[1]).\(module).weight"
        }
    }

    static func folderName(_ folder: String) -> String {
        var f = folder
        while f.count > 1, f.hasSuffix("/") { f.removeLast() }
        if f.isEmpty || f == "." { return "model" }
        return f.split(separator: "/").last.map(String.init) ?? "model"
    }

    /// The side file `name`, or nil when it does not exist; over `limit` is refused.
    static func open(_ side: FolderSideFiles, _ name: String, folder: String, limit: Int) throws -> InputFile? {
        let file: InputFile
        do {
            file = try side.open(name)
        } catch FileError.cannotOpen(_, let e) where e == ENOENT {
            return nil
        }
        guard file.size <= limit else { throw HFLlamaError.fileTooLarge(file: file.path, size: file.size, limit: limit) }
        return file
    }

    static func parse(_ file: InputFile) throws(HFLlamaError) -> JSONValue {
        do { return try JSONParser.parse(file.buffer.bytes) } catch { throw .invalidJSON(file: file.path, error) }
    }
}
