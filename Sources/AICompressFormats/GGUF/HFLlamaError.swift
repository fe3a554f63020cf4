import AICompressCore

/// Why a Hugging Face LLaMA-family checkpoint cannot be converted to a GGUF that llama.cpp runs.
/// `file` is the side file's path (config.json, tokenizer.json, tokenizer_config.json).
public enum HFLlamaError: Error, Equatable, Sendable {
    /// A side file over its size limit (checked before it is parsed).
    case fileTooLarge(file: String, size: Int, limit: Int)
    case invalidJSON(file: String, JSONError)
    case notAnObject(file: String)
    case missingKey(file: String, key: String)
    /// A key holds the wrong kind of value, or one out of range.
    case invalidValue(file: String, key: String, reason: String)
    /// `architectures` names no architecture the mapping knows.
    case unsupportedArchitecture(file: String, architectures: [String])
    /// A config feature llama.cpp would need and the mapping does not write (rope scaling kinds).
    case unsupportedFeature(file: String, feature: String)
    /// A checkpoint tensor with no llama.cpp name.
    case unmappedTensor(String)
    /// A tensor llama.cpp needs is absent.
    case missingTensor(String)
    case unexpectedShape(tensor: String, shape: [Int], expected: String)
    /// A tensor dtype llama.cpp cannot compute with.
    case unsupportedDType(tensor: String, dtype: DType)
    /// No tokenizer.json beside the checkpoint.
    case missingTokenizer(folder: String)
    /// A tokenizer this mapping does not convert (model type, pre-tokenizer, normalizer).
    case unsupportedTokenizer(file: String, reason: String)
}

extension HFLlamaError: DataFault {
    /// One line naming the file or tensor.
    public var description: String {
        switch self {
        case .fileTooLarge(let f, let s, let l): return "\(f): \(s) bytes, over the limit of \(l) for this side file"
        case .invalidJSON(let f, let e): return "\(f): \(e)"
        case .notAnObject(let f): return "\(f): not a JSON object"
        case .missingKey(let f, let k): return "\(f): no '\(k)', which the GGUF conversion needs"
        case .invalidValue(let f, let k, let r): return "\(f): '\(k)' \(r)"
        case .unsupportedArchitecture(let f, let a):
            return "\(f): architectures \(a) are not mapped to llama.cpp (mapped: \(HFLlamaArchitecture.known.map(\.hfName).joined(separator: ", "))); "
                + "convert to .safetensors or .ckpt instead, or remove config.json to keep the names"
        case .unsupportedFeature(let f, let feature): return "\(f): \(feature) is not mapped to GGUF; refused rather than write a file llama.cpp would run wrongly"
        case .unmappedTensor(let n): return "tensor '\(n)' has no llama.cpp name in the LLaMA-family mapping"
        case .missingTensor(let n): return "tensor '\(n)' is missing; llama.cpp needs it"
        case .unexpectedShape(let n, let s, let e): return "tensor '\(n)': shape \(s), config.json says \(e)"
        case .unsupportedDType(let n, let d): return "tensor '\(n)': dtype \(d); llama.cpp computes with f32, f16 or bf16 weights"
        case .missingTokenizer(let f): return "\(f.isEmpty ? "." : f): no tokenizer.json beside the checkpoint; a GGUF for llama.cpp needs its vocabulary"
        case .unsupportedTokenizer(let f, let r): return "\(f): \(r)"
        }
    }
}

extension HFLlamaError: FormatError {
    /// True for the errors about the checkpoint's tensors, which the model file's path prefixes
    /// (the others name their side file).
    var isAboutTensors: Bool {
        switch self {
        case .unmappedTensor, .missingTensor, .unexpectedShape, .unsupportedDType: return true
        default: return false
        }
    }
}
