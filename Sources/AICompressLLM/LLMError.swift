import AICompressCore

/// Why a language model, its tokenizer or a text evaluation was refused. Every message names
/// the key, tensor or token concerned.
public enum LLMError: Error, Equatable, Sendable {
    /// `general.architecture` is missing or not one the decoder runs.
    case unsupportedArchitecture(String)
    /// A required metadata key is absent.
    case missingKey(String)
    /// A metadata key holds a value of the wrong type or out of range.
    case badKey(key: String, reason: String)
    /// A tensor the architecture needs is absent.
    case missingTensor(String)
    /// A tensor has the wrong shape for the hyperparameters.
    case tensorShape(tensor: String, expected: [Int], actual: [Int])
    /// A tensor the decoder (or a method on it) does not compute: one llama.cpp's loader would
    /// refuse as unused, or a fused projection a calibrated method does not split.
    case unsupportedTensor(tensor: String, reason: String)
    /// A tensor's storage cannot be decoded to floats (an integer or sparse tensor, say).
    case tensorEncoding(tensor: String, reason: String)
    /// The tokenizer metadata is inconsistent (arrays of different lengths, a bad merge line).
    case tokenizer(String)
    /// The tokenizer model or pre-tokenizer family is not one aicompress implements.
    case unsupportedTokenizer(String)
    /// A token id outside the vocabulary.
    case tokenOutOfRange(id: Int32, vocabulary: Int)
    /// The text is too short for one chunk of the context length (llama-perplexity needs 2·n_ctx tokens).
    case textTooShort(tokens: Int, needed: Int, context: Int)
    /// Two models compared token by token do not share a vocabulary.
    case vocabularyMismatch(String)
    /// A parameter out of range (named as the library names it).
    case invalidParameter(name: String, reason: String)
    /// A Hugging Face config.json feature the decoder does not run (`file` is its path).
    case unsupportedConfig(file: String, key: String, reason: String)
    /// A side file a Hugging Face checkpoint needs (config.json, tokenizer.json) is absent.
    case missingSideFile(String)
}

extension LLMError: DataFault {
    public var faultKind: FaultKind {
        if case .invalidParameter = self { return .usage }
        return .data
    }

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let a):
            return "architecture '\(a)' is not supported (the decoder runs llama, mistral, qwen2, qwen3 and phi3 GGUF models)"
        case .missingKey(let k): return "metadata key '\(k)' is missing"
        case .badKey(let k, let r): return "metadata key '\(k)': \(r)"
        case .missingTensor(let t): return "tensor '\(t)' is missing"
        case .tensorShape(let t, let e, let a): return "tensor '\(t)' has shape \(a), expected \(e)"
        case .tensorEncoding(let t, let r): return "tensor '\(t)': \(r)"
        case .unsupportedTensor(let t, let r): return "tensor '\(t)': \(r)"
        case .tokenizer(let r): return "tokenizer: \(r)"
        case .unsupportedTokenizer(let r): return "tokenizer: \(r) is not supported"
        case .tokenOutOfRange(let id, let n): return "token id \(id) is outside the vocabulary of \(n) tokens"
        case .textTooShort(let n, let needed, let c):
            return "the text has \(n) tokens; a context of \(c) needs at least \(needed) (two chunks' worth, as llama-perplexity requires)"
        case .vocabularyMismatch(let r): return "the models do not share a vocabulary: \(r)"
        case .invalidParameter(let n, let r): return "`\(n)` \(r)"
        case .unsupportedConfig(let f, let k, let r): return "\(f): '\(k)' \(r)"
        case .missingSideFile(let f): return "\(f) is missing; a Hugging Face decoder needs config.json and tokenizer.json beside its safetensors"
        }
    }
}
