/// `tokenizer.ggml.pre` for a byte-level BPE tokenizer.json.
///
/// llama.cpp's converter names the pre-tokenizer by hashing the tokens that transformers
/// produces for a test text, which needs the tokenizer run in Python. Here the name comes from
/// the pre-tokenizer's own description instead: the splitting regex of tokenizer.json is compared
/// with the regexes llama.cpp implements (llama-vocab.cpp), and only an exact match is accepted.
/// Anything else is refused rather than given `default`: llama.cpp would split text differently
/// from the model's tokenizer, and the file would run with silently wrong tokens.
public enum HFLlamaPreTokenizer {
    /// The split regexes llama.cpp has a pre-tokenizer for, as tokenizer.json writes them.
    public static let known: [(regex: String, pre: String)] = [
        // Llama 3 (and the Llama-3-derived vocabularies llama.cpp calls llama-bpe).
        (#"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#, "llama-bpe"),
        // Qwen2: single digits.
        (#"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#, "qwen2"),
        // GPT-2, when written out as an explicit Split.
        (#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#, "gpt-2"),
    ]

    /// The `tokenizer.ggml.pre` name for tokenizer.json's `pre_tokenizer`.
    /// - Throws: `HFLlamaError.unsupportedTokenizer` naming what does not match.
    public static func name(_ pre: JSONValue?, file: String) throws(HFLlamaError) -> String {
        func refuse(_ reason: String) -> HFLlamaError { .unsupportedTokenizer(file: file, reason: "pre_tokenizer \(reason)") }
        guard let pre, pre != .null else { throw refuse("is missing; a byte-level BPE needs one") }
        switch pre["type"]?.stringValue {
        case "ByteLevel":
            // ByteLevel alone splits with GPT-2's regex (unless use_regex is false).
            guard pre["use_regex"] != .bool(false) else { throw refuse("ByteLevel without a regex splits nothing; llama.cpp has no such pre-tokenizer") }
            try checkNoPrefixSpace(pre, refuse)
            return "gpt-2"
        case "Sequence":
            guard case .array(let steps)? = pre["pretokenizers"], steps.count == 2,
                  steps[0]["type"]?.stringValue == "Split", steps[1]["type"]?.stringValue == "ByteLevel" else {
                throw refuse("is a Sequence other than [Split, ByteLevel]: \(pre)")
            }
            let split = steps[0], byteLevel = steps[1]
            guard let regex = split["pattern"]?["Regex"]?.stringValue else { throw refuse("Split has no Regex pattern") }
            guard split["behavior"]?.stringValue == "Isolated", split["invert"] != .bool(true) else {
                throw refuse("Split behaviour is not Isolated (or it is inverted)")
            }
            guard byteLevel["use_regex"] == .bool(false) else { throw refuse("ByteLevel after a Split must not split again (use_regex true)") }
            try checkNoPrefixSpace(byteLevel, refuse)
            guard let name = known.first(where: { $0.regex == regex })?.pre else {
                throw refuse("regex \(JSONValue.string(regex)) matches none llama.cpp implements (llama-bpe, qwen2, gpt-2)")
            }
            return name
        case let other:
            throw refuse("type \(other ?? "(none)") is not byte-level (ByteLevel, or Sequence [Split, ByteLevel])")
        }
    }

    private static func checkNoPrefixSpace(_ step: JSONValue, _ refuse: (String) -> HFLlamaError) throws(HFLlamaError) {
        guard step["add_prefix_space"] != .bool(true) else { throw refuse("ByteLevel adds a prefix space, which llama.cpp's BPE does not") }
    }
}
