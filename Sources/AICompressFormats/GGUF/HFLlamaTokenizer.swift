/// A byte-level BPE tokenizer.json (+ tokenizer_config.json) as llama.cpp's `gpt2` vocabulary:
/// what the converter's `_set_vocab_gpt2` and gguf-py's `SpecialVocab` write, computed from the
/// JSON alone (the converter runs transformers' `AutoTokenizer`).
///
/// - tokens: id order over `vocab_size` (the embedding's rows); ids no token has become
///   `[PADi]` of type UNUSED. Base vocabulary tokens are NORMAL; added tokens CONTROL when
///   `special` (or when they look special: `<|…|>`, `<pad>`, `<unused…>`), USER_DEFINED
///   otherwise with `▁` as a space (the converter also re-encodes non-normalized added tokens
///   through transformers; here they are kept as written).
/// - merges: strings as they are; the pair form (transformers ≥ 4.45) joined by a space, a
///   space inside a part written as U+0120.
/// - special ids: `<type>_token` of tokenizer_config.json looked up among the added tokens, then
///   `<type>_token_id` of config.json; `add_bos/eos/sep_token` from the post-processor
///   (ByteLevel: false; TemplateProcessing: whether it starts with the bos / ends with the eos),
///   else from tokenizer_config.json.
public enum HFLlamaTokenizer {
    /// gguf-py's `SpecialVocab` token types that have a GGUF key.
    static let specialTypes = ["bos", "eos", "unk", "sep", "pad", "mask"]
    /// Their keys (gguf-py constants.py; `seperator` is spelled as llama.cpp spells it).
    static let idKeys = ["bos": "tokenizer.ggml.bos_token_id", "eos": "tokenizer.ggml.eos_token_id",
                         "unk": "tokenizer.ggml.unknown_token_id", "sep": "tokenizer.ggml.seperator_token_id",
                         "pad": "tokenizer.ggml.padding_token_id", "mask": "tokenizer.ggml.mask_token_id"]

    /// llama.cpp's `llama_token_type` values.
    public enum TokenType: Int32, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// The side files, parsed.
    public struct Input {
        /// tokenizer.json.
        public var tokenizer: JSONValue
        /// Its path, for messages.
        public var tokenizerFile: String
        /// tokenizer_config.json, when present.
        public var tokenizerConfig: JSONValue?
        /// Its path, for messages.
        public var tokenizerConfigFile: String
        /// chat_template.jinja, when present (tokenizer_config's `chat_template` wins).
        public var chatTemplate: String?
        /// `<type>_token_id` from config.json.
        public var configTokenIDs: [String: Int]
        /// Tokens in the GGUF: the embedding's rows.
        public var vocabSize: Int

        /// The inputs of one conversion.
        public init(tokenizer: JSONValue, tokenizerFile: String, tokenizerConfig: JSONValue?, tokenizerConfigFile: String,
                    chatTemplate: String?, configTokenIDs: [String: Int], vocabSize: Int) {
            self.tokenizer = tokenizer
            self.tokenizerFile = tokenizerFile
            self.tokenizerConfig = tokenizerConfig
            self.tokenizerConfigFile = tokenizerConfigFile
            self.chatTemplate = chatTemplate
            self.configTokenIDs = configTokenIDs
            self.vocabSize = vocabSize
        }
    }

    /// The `tokenizer.*` pairs, in the converter's order.
    /// - Throws: `HFLlamaError.unsupportedTokenizer` for a tokenizer that is not byte-level BPE
    ///   or a malformed one (ids out of range or twice, merges not strings).
    public static func pairs(_ input: Input) throws(HFLlamaError) -> [GGUFKeyValue] {
        let file = input.tokenizerFile, json = input.tokenizer
        func bad(_ reason: String) -> HFLlamaError { .unsupportedTokenizer(file: file, reason: reason) }
        guard case .object = json else { throw .notAnObject(file: file) }
        guard let model = json["model"], model["type"]?.stringValue == "BPE" else {
            throw bad("model type is \(json["model"]?["type"] ?? .null), not BPE (WordPiece, Unigram and SentencePiece vocabularies are not converted)")
        }
        guard model["byte_fallback"] != .bool(true) else {
            throw bad("a BPE with byte_fallback is a SentencePiece-style vocabulary (llama.cpp's 'llama' model, scored tokens from tokenizer.model), which is not converted yet")
        }
        if let n = json["normalizer"], n != .null, n["type"]?.stringValue != "NFC" {
            throw bad("normalizer \(n) is not mapped (llama.cpp's byte-level BPE applies none)")
        }
        let pre = try HFLlamaPreTokenizer.name(json["pre_tokenizer"], file: file)
        let n = input.vocabSize
        var tokens = [String?](repeating: nil, count: n)
        var types = [TokenType](repeating: .unused, count: n)
        guard case .object(let vocab)? = model["vocab"] else { throw bad("model.vocab is not an object of token ids") }
        for (token, value) in vocab {
            guard let id = value.nonNegativeInt, id < n else { throw bad("token \(JSONValue.string(token)) has id \(value), outside the \(n) rows of the embedding") }
            guard tokens[id] == nil else { throw bad("id \(id) is given to two tokens") }
            tokens[id] = token
            types[id] = .normal
        }
        var added = [String: Int]()
        if case .array(let list)? = json["added_tokens"] {
            for entry in list {
                guard let content = entry["content"]?.stringValue, let id = entry["id"]?.nonNegativeInt, id < n else {
                    throw bad("added token \(entry) has no content, or an id outside the \(n) rows of the embedding")
                }
                if added[content] == nil { added[content] = id }
                if entry["special"] == .bool(true) || looksSpecial(content) {
                    tokens[id] = content
                    types[id] = .control
                } else {
                    tokens[id] = content.replacing("\u{2581}", with: " ")
                    types[id] = .userDefined
                }
            }
        }
        var pairs: [GGUFKeyValue] = [
            GGUFKeyValue("tokenizer.ggml.model", .text("gpt2")),
            GGUFKeyValue("tokenizer.ggml.pre", .text(pre)),
            GGUFKeyValue("tokenizer.ggml.tokens", .array(GGUFArray(strings: (0..<n).map { tokens[$0] ?? "[PAD\($0)]" }))),
            GGUFKeyValue("tokenizer.ggml.token_type", .array(try array(.int32, types.map { .int32($0.rawValue) }))),
            GGUFKeyValue("tokenizer.ggml.merges", .array(GGUFArray(strings: try merges(model["merges"], bad)))),
        ]
        pairs += try specials(input, added: added)
        let config = input.tokenizerConfig
        if let t = config?["chat_template"]?.stringValue ?? input.chatTemplate {
            pairs.append(GGUFKeyValue("tokenizer.chat_template", .text(t)))
        }
        return pairs
    }

    /// The special token ids and the add-token flags.
    static func specials(_ input: Input, added: [String: Int]) throws(HFLlamaError) -> [GGUFKeyValue] {
        let config = input.tokenizerConfig
        func content(_ typ: String) -> String? {
            let entry = config?["\(typ)_token"]
            return entry?.stringValue ?? entry?["content"]?.stringValue
        }
        var add = [String: Bool]()
        let post = input.tokenizer["post_processor"]
        var processors = [JSONValue]()
        if case .array(let list)? = post?["processors"] { processors = list } else if let post, post != .null { processors = [post] }
        for p in processors {
            switch p["type"]?.stringValue {
            case "ByteLevel":
                if add["bos"] == nil { add["bos"] = false }
                if add["eos"] == nil { add["eos"] = false }
            case "TemplateProcessing":
                guard case .array(let single)? = p["single"], single.count > 1 else { continue }
                if let first = single[0]["SpecialToken"]?["id"]?.stringValue { add["bos"] = first == (content("bos") ?? first) }
                if let last = single[single.count - 1]["SpecialToken"]?["id"]?.stringValue { add["eos"] = last == (content("eos") ?? last) }
            default: continue
            }
        }
        var out = [GGUFKeyValue]()
        for typ in specialTypes {
            guard let key = idKeys[typ] else { continue }
            // added-token ids are already checked against the vocabulary; config.json's are not
            guard let id = content(typ).flatMap({ added[$0] }) ?? input.configTokenIDs[typ] else { continue }
            guard id < input.vocabSize else {
                throw .invalidValue(file: "config.json", key: "\(typ)_token_id", reason: "is \(id), outside the \(input.vocabSize) tokens")
            }
            out.append(GGUFKeyValue(key, .uint32(UInt32(id))))
        }
        for typ in ["bos", "eos", "sep"] {
            if add[typ] == nil, case .bool(let b)? = config?["add_\(typ)_token"] { add[typ] = b }
            if let b = add[typ] { out.append(GGUFKeyValue("tokenizer.ggml.add_\(typ)_token", .bool(b))) }
        }
        return out
    }

    /// The merges as `a b` strings.
    static func merges(_ value: JSONValue?, _ bad: (String) -> HFLlamaError) throws(HFLlamaError) -> [String] {
        guard let value, value != .null else { return [] }
        guard case .array(let list) = value else { throw bad("model.merges is not an array") }
        var out = [String]()
        out.reserveCapacity(list.count)
        for m in list {
            if let s = m.stringValue {
                out.append(s)
            } else if case .array(let pair) = m, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
                out.append(a.replacing(" ", with: "\u{120}") + " " + b.replacing(" ", with: "\u{120}"))
            } else {
                throw bad("merge \(m) is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }
        return out
    }

    /// The converter's `does_token_look_special`.
    static func looksSpecial(_ t: String) -> Bool {
        ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains(t) || (t.hasPrefix("<|") && t.hasSuffix("|>"))
            || (t.hasPrefix("<\u{FF5C}") && t.hasSuffix("\u{FF5C}>")) || (t.hasPrefix("<unused") && t.hasSuffix(">"))
    }

    private static func array(_ type: GGUFValueType, _ values: [GGUFValue]) throws(HFLlamaError) -> GGUFArray {
        do { return try GGUFArray(type, values) } catch { throw .unsupportedTokenizer(file: "", reason: "\(error)") }
    }
}
