import AICompressFormats

/// A tokenizer's vocabulary from GGUF metadata (`tokenizer.ggml.*`), with llama.cpp's defaults
/// (`llama_vocab::impl::load`): token texts as bytes (never Swift `String`s, whose equality is
/// canonical equivalence, not byte equality), scores, types, merges, special ids and flags.
public struct Vocabulary: Sendable {
    /// The tokenizer algorithm.
    public enum Kind: Sendable, Equatable {
        /// `llama`: SentencePiece BPE over scores, byte fallback `<0xXX>`, spaces as ▁.
        case sentencePiece
        /// `gpt2`: byte-level BPE over ranked merges after a pre-tokenizer.
        case bytePairs(PreTokenizer)
    }

    /// llama.cpp's `llama_token_type` values as GGUF stores them.
    public enum TokenType: Int32, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// The algorithm.
    public let kind: Kind
    /// Token texts as stored.
    public let tokens: [[UInt8]]
    /// SentencePiece scores (zeros when absent).
    public let scores: [Float]
    /// Token types (normal when absent).
    public let types: [TokenType]
    /// The id of each text.
    let ids: [[UInt8]: Int32]
    /// BPE merge ranks by `left ‖ 0xFF ‖ right` (0xFF never occurs in UTF-8).
    let mergeRanks: [[UInt8]: Int32]
    /// Beginning-of-sequence token, if any.
    public let bos: Int32?
    /// End-of-sequence token, if any.
    public let eos: Int32?
    /// Unknown token, if any.
    public let unknown: Int32?
    /// Whether a tokenization with special tokens starts with BOS (llama-perplexity's rule).
    public let addBOS: Bool
    /// Whether SentencePiece text gets a leading space.
    public let addSpacePrefix: Bool
    /// llama-bpe: a whole pre-token found in the vocabulary is one token, merges not applied.
    public let ignoreMerges: Bool
    /// Control, user-defined and unknown tokens, longest text first (llama.cpp's special cache).
    let specialTokens: [Int32]

    /// Number of tokens.
    public var count: Int { tokens.count }

    /// The id of a text, or nil.
    public func id(of text: [UInt8]) -> Int32? { ids[text] }

    /// The rank of merging `left` and `right`, or nil.
    func rank(_ left: ArraySlice<UInt8>, _ right: ArraySlice<UInt8>) -> Int32? {
        var key = [UInt8]()
        key.reserveCapacity(left.count + right.count + 1)
        key.append(contentsOf: left)
        key.append(0xFF)
        key.append(contentsOf: right)
        return mergeRanks[key]
    }

    /// The vocabulary of a GGUF model's metadata.
    /// - Throws: `LLMError.missingKey`, `.badKey`, `.tokenizer`, `.unsupportedTokenizer`.
    public init(gguf m: GGUFMetadataTable) throws(LLMError) {
        let model = try m.required("tokenizer.ggml.model") { k throws(LLMError) in try m.string(k) }
        let list = try m.required("tokenizer.ggml.tokens") { k throws(LLMError) in try m.array(k) }
        guard list.elementType == .string else {
            throw .badKey(key: "tokenizer.ggml.tokens", reason: "is not an array of strings")
        }
        let n = list.count
        var tokens = [[UInt8]]()
        tokens.reserveCapacity(n)
        for i in 0..<n {
            guard case .string(let s) = list[i] else { break }
            // llama.cpp names empty tokens so that every text is distinct.
            tokens.append(s.bytes.isEmpty ? Array("[EMPTY_\(i)]".utf8) : s.bytes)
        }
        var scores = [Float](repeating: 0, count: n)
        if let a = try m.array("tokenizer.ggml.scores") {
            guard a.count >= n, a.elementType == .float32 || a.elementType == .int32 else {
                throw .badKey(key: "tokenizer.ggml.scores", reason: "holds \(a.count) \(a.elementType) values for \(n) tokens")
            }
            for i in 0..<n {
                switch a[i] {
                case .float32(let f): scores[i] = f
                case .int32(let v): scores[i] = Float(v)
                default: break
                }
            }
        }
        var types = [TokenType](repeating: .normal, count: n)
        if let a = try m.array("tokenizer.ggml.token_type") {
            guard a.count >= n, a.elementType == .int32 else {
                throw .badKey(key: "tokenizer.ggml.token_type", reason: "holds \(a.count) \(a.elementType) values for \(n) tokens")
            }
            for i in 0..<n { if case .int32(let v) = a[i] { types[i] = TokenType(rawValue: v) ?? .undefined } }
        }
        var ids = [[UInt8]: Int32](minimumCapacity: n)
        for (i, t) in tokens.enumerated() { ids[t] = Int32(i) }
        guard ids.count == n else { throw .tokenizer("tokenizer.ggml.tokens holds duplicate texts") }

        var kind: Kind, bos: Int32?, eos: Int32?, unk: Int32?
        var addBOS: Bool, addSpace: Bool, ignoreMerges = false
        var ranks = [[UInt8]: Int32]()
        switch model {
        case "llama":
            kind = .sentencePiece
            (bos, eos, unk) = (1, 2, 0)
            (addBOS, addSpace) = (true, true)
        case "gpt2":
            let pre = try m.string("tokenizer.ggml.pre") ?? "default"
            guard let p = PreTokenizer(name: pre) else { throw .unsupportedTokenizer("pre-tokenizer '\(pre)' (tokenizer.ggml.pre)") }
            kind = .bytePairs(p)
            (bos, eos, unk) = (11, 11, nil)
            (addBOS, addSpace) = (p.addsBOS, false)
            ignoreMerges = p.ignoresMerges
            let merges = try m.required("tokenizer.ggml.merges") { k throws(LLMError) in try m.array(k) }
            guard merges.elementType == .string else { throw .badKey(key: "tokenizer.ggml.merges", reason: "is not an array of strings") }
            ranks.reserveCapacity(merges.count)
            for i in 0..<merges.count {
                guard case .string(let s) = merges[i] else { continue }
                let b = s.bytes
                // llama.cpp splits at the first space after the first byte; a line without one is
                // an empty pair that never matches.
                guard b.count > 1, let sp = b[1...].firstIndex(of: 0x20) else { continue }
                var key = Array(b[..<sp])
                key.append(0xFF)
                key.append(contentsOf: b[(sp + 1)...])
                if ranks[key] == nil { ranks[key] = Int32(i) }
            }
        default:
            throw .unsupportedTokenizer("tokenizer model '\(model)' (tokenizer.ggml.model; llama and gpt2 are)")
        }
        func special(_ key: String, _ current: Int32?) throws(LLMError) -> Int32? {
            guard let v = try m.integer(key, in: 0...Int(UInt32.max)) else { return current.flatMap { Int($0) < n ? $0 : nil } }
            return v < n ? Int32(v) : current.flatMap { Int($0) < n ? $0 : nil }
        }
        bos = try special("tokenizer.ggml.bos_token_id", bos)
        eos = try special("tokenizer.ggml.eos_token_id", eos)
        unk = try special("tokenizer.ggml.unknown_token_id", unk)
        if let b = try m.bool("tokenizer.ggml.add_bos_token") { addBOS = b }
        if let s = try m.bool("tokenizer.ggml.add_space_prefix") { addSpace = s }
        if addBOS && bos == nil { throw .tokenizer("tokenizer.ggml.add_bos_token is set but there is no BOS token") }

        self.kind = kind
        self.tokens = tokens
        self.scores = scores
        self.types = types
        self.ids = ids
        self.mergeRanks = ranks
        self.bos = bos
        self.eos = eos
        self.unknown = unk
        self.addBOS = addBOS
        self.addSpacePrefix = addSpace
        self.ignoreMerges = ignoreMerges
        let specials = (0..<n).filter { [.control, .userDefined, .unknown].contains(types[$0]) }
        // A stable sort by length, longest first, as llama.cpp's std::sort on distinct lengths;
        // equal lengths keep id order (std::sort leaves that unspecified; it only matters when
        // two special texts of one length overlap in the text).
        self.specialTokens = specials.enumerated().sorted {
            tokens[$0.element].count != tokens[$1.element].count ? tokens[$0.element].count > tokens[$1.element].count : $0.offset < $1.offset
        }.map { Int32($0.element) }
    }
}
