/// Text to token ids exactly as llama.cpp's `llama_tokenize` (`llama_vocab::impl::tokenize`)
/// does for SentencePiece (`llama`) and byte-level BPE (`gpt2`) vocabularies, with
/// `parse_special` off (what llama-perplexity and test-tokenizer-0 use): user-defined tokens are
/// cut out of the text first, control tokens are not recognised in text.
public struct Tokenizer: Sendable {
    /// The vocabulary.
    public let vocabulary: Vocabulary

    /// A tokenizer of `vocabulary`.
    public init(_ vocabulary: Vocabulary) { self.vocabulary = vocabulary }

    /// A piece of text or a token already recognised in it.
    enum Fragment {
        case text(Range<Int>)
        case token(Int32)
    }

    /// The token ids of UTF-8 `text`; `addSpecial` adds BOS when the vocabulary asks for it.
    /// - Throws: `LLMError.tokenizer` when the text is not valid UTF-8 (byte offset named).
    public func tokenize(_ text: [UInt8], addSpecial: Bool) throws(LLMError) -> [Int32] {
        let v = vocabulary
        var out = [Int32]()
        if addSpecial, v.addBOS, let b = v.bos { out.append(b) }
        let fragments = text.isEmpty ? [] : partition(text)
        switch v.kind {
        case .sentencePiece:
            var previousSpecial = true
            for f in fragments {
                switch f {
                case .text(let r):
                    var bytes = [UInt8]()
                    bytes.reserveCapacity(r.count + 3)
                    if v.addSpacePrefix && previousSpecial { bytes.append(contentsOf: SentencePieceSession.spaceMark) }
                    for b in text[r] {
                        if b == 0x20 { bytes.append(contentsOf: SentencePieceSession.spaceMark) } else { bytes.append(b) }
                    }
                    SentencePieceSession(vocabulary: v).tokenize(bytes, into: &out)
                    previousSpecial = false
                case .token(let id):
                    out.append(id)
                    previousSpecial = true
                }
            }
        case .bytePairs(let pre):
            for f in fragments {
                switch f {
                case .text(let r):
                    let (cps, offsets) = try UTF8Scalars.decode(text, r)
                    var start = 0
                    let session = BytePairSession(vocabulary: v)
                    for len in pre.split(cps) {
                        let bytes = text[(r.lowerBound + offsets[start])..<(r.lowerBound + offsets[start + len])]
                        session.tokenize(word: ByteEncoding.encode(bytes), into: &out)
                        start += len
                    }
                case .token(let id): out.append(id)
                }
            }
        }
        return out
    }

    /// `tokenizer_st_partition` with parse_special off: every user-defined token's text,
    /// longest first, is cut out of the remaining text fragments (leftmost occurrences first).
    func partition(_ text: [UInt8]) -> [Fragment] {
        var fragments: [Fragment] = [.text(0..<text.count)]
        for id in vocabulary.specialTokens where vocabulary.types[Int(id)] == .userDefined {
            let needle = vocabulary.tokens[Int(id)]
            guard !needle.isEmpty else { continue }
            var next = [Fragment]()
            for f in fragments {
                guard case .text(let r) = f else { next.append(f); continue }
                var start = r.lowerBound, i = r.lowerBound
                while i + needle.count <= r.upperBound {
                    if text[i] == needle[0] && text[i..<(i + needle.count)].elementsEqual(needle) {
                        if i > start { next.append(.text(start..<i)) }
                        next.append(.token(id))
                        i += needle.count
                        start = i
                    } else {
                        i += 1
                    }
                }
                if start < r.upperBound { next.append(.text(start..<r.upperBound)) }
            }
            fragments = next
        }
        return fragments
    }
}

/// UTF-8 to code points with the byte offset of each (and one past the end).
enum UTF8Scalars {
    static func decode(_ b: [UInt8], _ r: Range<Int>) throws(LLMError) -> ([UInt32], [Int]) {
        var cps = [UInt32](), offs = [Int]()
        cps.reserveCapacity(r.count)
        offs.reserveCapacity(r.count + 1)
        var i = r.lowerBound
        while i < r.upperBound {
            let c = b[i]
            let n = c < 0x80 ? 1 : c >> 5 == 0b110 ? 2 : c >> 4 == 0b1110 ? 3 : c >> 3 == 0b11110 ? 4 : 0
            guard n > 0, i + n <= r.upperBound else { throw .tokenizer("the text is not UTF-8 at byte \(i)") }
            var v = n == 1 ? UInt32(c) : UInt32(c) & (0xFF >> (n + 1))
            for k in 1..<max(1, n) {
                guard b[i + k] & 0xC0 == 0x80 else { throw .tokenizer("the text is not UTF-8 at byte \(i + k)") }
                v = v << 6 | UInt32(b[i + k] & 0x3F)
            }
            offs.append(i - r.lowerBound)
            cps.append(v)
            i += n
        }
        offs.append(r.count)
        return (cps, offs)
    }

    /// Bytes of the UTF-8 character starting with `lead` (llama.cpp's `unicode_len_utf8`).
    static func length(_ lead: UInt8) -> Int {
        let table = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4]
        return table[Int(lead >> 4)]
    }
}

/// GPT-2's `bytes_to_unicode`: every byte as a printable code point, in UTF-8.
enum ByteEncoding {
    static let table: [[UInt8]] = {
        var map = [UInt32](repeating: 0, count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) {
                map[b] = UInt32(b)
            } else {
                map[b] = 256 + n
                n += 1
            }
        }
        return map.map { Array(String(Unicode.Scalar($0)!).utf8) }
    }()

    static func encode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(contentsOf: table[Int(b)]) }
        return out
    }
}
