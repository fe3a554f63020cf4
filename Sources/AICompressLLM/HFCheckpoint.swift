#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AICompressCore
import AICompressFormats

/// Hugging Face LLaMA-family checkpoints (safetensors, config.json, tokenizer.json) run by the
/// one `Decoder`.
///
/// The weight source is the checkpoint under llama.cpp's tensor names: `HFLlamaConversion`
/// renames the tensors and checks them against config.json, writes the hyperparameters and the
/// vocabulary as the GGUF pairs a converted file would hold, and leaves every 2-D tensor as a
/// view of the mapped safetensors in its stored f32/f16/bf16 encoding. What differs from the
/// converted GGUF is the q/k row layout: the checkpoint keeps Hugging Face's, so rotary
/// embeddings rotate halves (`rotate_half`, `RopeStyle.halves`) instead of the adjacent pairs
/// llama.cpp's `llama` uses on permuted rows. The two are the same model: permuting q and k
/// within each head alike leaves every attention score unchanged.
extension LanguageModel {
    /// The language model of a safetensors checkpoint (single file or sharded) with config.json
    /// and tokenizer.json beside it.
    /// - Throws: `LLMError.missingSideFile`, `.unsupportedConfig` naming config.json and the key
    ///   (rope scaling other than linear, an activation other than silu, partial rotary);
    ///   `HFLlamaError` for an unmapped architecture, tensor or tokenizer.
    public init(huggingFace loaded: LoadedModel) throws {
        guard loaded.format == .safetensors, loaded.input.path != "-" else {
            throw LLMError.missingSideFile("config.json (a checkpoint from standard input has no folder)")
        }
        let side = FolderSideFiles(besides: loaded.input.path)
        let checks = try HFDecoderSupport(side)
        let converted = try HFLlamaConversion.prepared(loaded, for: .gguf)
        try self.init(model: converted.model) { c in
            c.ropeStyle = .halves
            c.attentionWindow = checks.attentionWindow
            c.attentionWindowKey = nil
        }
    }
}

/// The config.json features the decoder does not run, refused by key before the conversion
/// reads the checkpoint (its messages speak of writing GGUF), and the sliding window.
struct HFDecoderSupport {
    /// `sliding_window` when the model uses it (Qwen2 only with `use_sliding_window`).
    let attentionWindow: Int?

    init(_ side: FolderSideFiles) throws {
        guard let file = try Self.open(side, "config.json") else { throw LLMError.missingSideFile(Self.path(side, "config.json")) }
        guard try Self.open(side, "tokenizer.json") != nil else { throw LLMError.missingSideFile(Self.path(side, "tokenizer.json")) }
        guard file.size <= HFLlamaConversion.configLimit else {
            throw HFLlamaError.fileTooLarge(file: file.path, size: file.size, limit: HFLlamaConversion.configLimit)
        }
        let json: JSONValue
        do { json = try JSONParser.parse(file.buffer.bytes) } catch { throw HFLlamaError.invalidJSON(file: file.path, error) }
        attentionWindow = try Self.check(json, file: file.path)
    }

    /// The window, after refusing what the decoder cannot run.
    /// - Throws: `LLMError.unsupportedConfig`.
    static func check(_ json: JSONValue, file: String) throws(LLMError) -> Int? {
        // The architecture first: a BertModel's first difference is not its activation.
        if case .array(let list)? = json["architectures"] {
            let names = list.compactMap(\.stringValue), known = HFLlamaArchitecture.known.map(\.hfName)
            if !names.contains(where: known.contains) {
                throw .unsupportedConfig(file: file, key: "architectures", reason: "is \(names); the decoder runs \(known.joined(separator: ", ")) (run an encoder's ONNX export with evaluate --data)")
            }
        }
        if let act = json["hidden_act"], act != .null, act.stringValue != "silu" {
            throw .unsupportedConfig(file: file, key: "hidden_act", reason: "is \(act); the decoder's feed-forward is SwiGLU with silu")
        }
        for key in ["rope_scaling", "rope_parameters"] {
            guard let v = json[key], case .object = v else { continue }
            let type = v["rope_type"]?.stringValue ?? v["type"]?.stringValue
            if let type, type != "default", type != "linear" {
                throw .unsupportedConfig(file: file, key: key, reason: "is rope scaling type '\(type)'; the decoder runs none and linear")
            }
            if let f = v["partial_rotary_factor"], !isOne(f) {
                throw .unsupportedConfig(file: file, key: "\(key).partial_rotary_factor", reason: "is \(f); the decoder rotates whole heads")
            }
        }
        if let f = json["partial_rotary_factor"], !isOne(f) {
            throw .unsupportedConfig(file: file, key: "partial_rotary_factor", reason: "is \(f); the decoder rotates whole heads")
        }
        guard let w = json["sliding_window"], w != .null, json["use_sliding_window"] != .bool(false) else { return nil }
        guard let n = w.nonNegativeInt, n > 0 else {
            throw .unsupportedConfig(file: file, key: "sliding_window", reason: "is \(w), not a positive integer")
        }
        return n
    }

    /// Null or the number 1 (whatever its spelling).
    static func isOne(_ v: JSONValue) -> Bool {
        if v == .null { return true }
        guard case .number(let text) = v else { return false }
        return Double(text) == 1
    }

    /// The side file `name`, or nil when it does not exist.
    static func open(_ side: FolderSideFiles, _ name: String) throws -> InputFile? {
        do { return try side.open(name) } catch FileError.cannotOpen(_, let e) where e == ENOENT { return nil }
    }

    static func path(_ side: FolderSideFiles, _ name: String) -> String {
        side.folder.isEmpty ? name : side.folder.hasSuffix("/") ? side.folder + name : side.folder + "/" + name
    }
}
