/// The pre-tokenizers of byte-level BPE vocabularies (`tokenizer.ggml.pre`) for llama-family
/// models: how text is cut into words before merges, transliterated from llama.cpp's
/// `unicode_regex_split_custom_gpt2/llama3/qwen2` and the std::regex steps of its other
/// families (llama-vocab.cpp `llm_tokenizer_bpe`), without a regex engine.
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)` (gpt-2, mpt, olmo).
    case gpt2
    /// Llama 3: contractions, `[^\r\n\p{L}\p{N}]?\p{L}+`, `\p{N}{1,3}`, punctuation with trailing
    /// newlines, newline runs, whitespace (llama-bpe).
    case llama3
    /// Qwen2: llama3's with single digits.
    case qwen2
    /// SmolLM / StarCoder: every digit alone, then gpt2's.
    case smollm
    /// `default`: punctuation runs, gpt2's, digit runs, then groups of three ASCII digits.
    case defaultBPE

    /// The family of a `tokenizer.ggml.pre` name (the names llama.cpp maps to these families).
    public init?(name: String) {
        switch name {
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral": self = .llama3
        case "qwen2", "deepseek-r1-qwen", "stablelm2": self = .qwen2
        case "gpt-2", "phi-2", "mpt", "olmo": self = .gpt2
        case "smollm", "starcoder", "refact", "codeshell": self = .smollm
        case "default": self = .defaultBPE
        default: return nil
        }
    }

    /// llama.cpp turns BOS on for llama3 vocabularies (`add_bos = true`); the GGUF key overrides.
    var addsBOS: Bool { self == .llama3 }
    /// llama3 vocabularies look a whole word up before merging (`ignore_merges`).
    var ignoresMerges: Bool { self == .llama3 }

    /// The words of `cps` as lengths (in code points), in order, covering all of it.
    func split(_ cps: [UInt32]) -> [Int] {
        var pieces = [cps.count]
        let s = Splitter(cps)
        switch self {
        case .gpt2: pieces = s.gpt2(pieces)
        case .llama3: pieces = s.llama3(pieces, maxDigits: 3)
        case .qwen2: pieces = s.llama3(pieces, maxDigits: 1)
        case .smollm:
            pieces = s.isolateRuns(pieces, maxRun: 1) { s.flags($0).number }
            pieces = s.gpt2(pieces)
        case .defaultBPE:
            pieces = s.isolateRuns(pieces, maxRun: .max) { Splitter.isDefaultPunctuation(s.cps[$0], s.flags($0)) }
            pieces = s.gpt2(pieces)
            pieces = s.isolateRuns(pieces, maxRun: .max) { s.flags($0).number }
            pieces = s.asciiDigitTriples(pieces)
        }
        return pieces.isEmpty && !cps.isEmpty ? [cps.count] : pieces
    }
}
