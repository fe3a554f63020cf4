/// One symbol of a merge loop: a byte range of the word and its neighbours (llama.cpp's `llm_symbol`).
struct MergeSymbol {
    var start: Int, count: Int, prev: Int, next: Int
}

/// The symbols of `bytes`, one UTF-8 character each (lengths clipped at the end).
func mergeSymbols(_ bytes: [UInt8]) -> [MergeSymbol] {
    var symbols = [MergeSymbol](), offset = 0
    while offset < bytes.count {
        let n = min(UTF8Scalars.length(bytes[offset]), bytes.count - offset)
        symbols.append(MergeSymbol(start: offset, count: n, prev: symbols.count - 1, next: offset + n == bytes.count ? -1 : symbols.count + 1))
        offset += n
    }
    return symbols
}

/// Merges symbol `right` into its left neighbour `left` (unlinking it); returns the merged
/// symbol's new neighbours (prev, next), whose pairs with it are the next candidates.
func mergeRight(_ symbols: inout [MergeSymbol], _ left: Int, _ right: Int) -> (Int, Int) {
    let r = symbols[right]
    symbols[left].count += r.count
    symbols[right].count = 0
    symbols[left].next = r.next
    if r.next >= 0 { symbols[r.next].prev = left }
    return (symbols[left].prev, r.next)
}

/// `llm_tokenizer_bpe_session` for one pre-tokenized, byte-encoded word: merges by rank (lowest
/// first, leftmost on ties), then each symbol's id, or its single bytes' ids when it has none.
struct BytePairSession {
    let vocabulary: Vocabulary

    struct Bigram {
        var left: Int, right: Int, rank: Int32, text: [UInt8]
    }

    func tokenize(word: [UInt8], into out: inout [Int32]) {
        let v = vocabulary
        if v.ignoreMerges, let id = v.id(of: word) {
            out.append(id)
            return
        }
        var symbols = mergeSymbols(word)
        var queue = TokenHeap<Bigram> { $0.rank < $1.rank || ($0.rank == $1.rank && $0.left < $1.left) }
        func add(_ l: Int, _ r: Int) {
            guard l >= 0, r >= 0 else { return }
            let a = symbols[l], b = symbols[r]
            guard let rank = v.rank(word[a.start..<(a.start + a.count)], word[b.start..<(b.start + b.count)]) else { return }
            queue.push(Bigram(left: l, right: r, rank: rank, text: Array(word[a.start..<(b.start + b.count)])))
        }
        for i in 1..<max(1, symbols.count) { add(i - 1, i) }
        while let g = queue.pop() {
            let l = symbols[g.left], r = symbols[g.right]
            guard l.count > 0, r.count > 0, l.start + l.count == r.start,
                  word[l.start..<(r.start + r.count)].elementsEqual(g.text) else { continue }
            let (p, n) = mergeRight(&symbols, g.left, g.right)
            add(p, g.left)
            add(g.left, n)
        }
        for s in symbols where s.count > 0 {
            let text = Array(word[s.start..<(s.start + s.count)])
            if let id = v.id(of: text) {
                out.append(id)
            } else {
                for b in text { if let id = v.id(of: [b]) { out.append(id) } }
            }
        }
    }
}

/// `llm_tokenizer_spm_session`: merges of adjacent symbols whose concatenation is a token, by
/// score (highest first, leftmost on ties), then byte fallback (`<0xXX>`) for symbols that are
/// not tokens.
struct SentencePieceSession {
    let vocabulary: Vocabulary
    /// "▁" (U+2581), which stands for a space.
    static let spaceMark: [UInt8] = [0xE2, 0x96, 0x81]

    struct Bigram {
        var left: Int, right: Int, score: Float, size: Int
    }

    func tokenize(_ text: [UInt8], into out: inout [Int32]) {
        let v = vocabulary
        var symbols = mergeSymbols(text)
        guard !symbols.isEmpty else { return }
        var queue = TokenHeap<Bigram> { $0.score > $1.score || ($0.score == $1.score && $0.left < $1.left) }
        func add(_ l: Int, _ r: Int) {
            guard l >= 0, r >= 0 else { return }
            let a = symbols[l], b = symbols[r]
            guard let id = v.id(of: Array(text[a.start..<(b.start + b.count)])) else { return }
            queue.push(Bigram(left: l, right: r, score: v.scores[Int(id)], size: a.count + b.count))
        }
        for i in 1..<symbols.count { add(i - 1, i) }
        while let g = queue.pop() {
            let l = symbols[g.left], r = symbols[g.right]
            guard l.count > 0, r.count > 0, l.count + r.count == g.size else { continue }
            let (p, n) = mergeRight(&symbols, g.left, g.right)
            add(p, g.left)
            add(g.left, n)
        }
        var i = 0
        while i != -1 {
            let s = symbols[i]
            i = s.next
            guard s.count > 0 else { continue }
            let piece = Array(text[s.start..<(s.start + s.count)])
            if let id = v.id(of: piece) {
                out.append(id)
                continue
            }
            for b in piece {
                let hex = Array("0123456789ABCDEF".utf8)
                let name: [UInt8] = [0x3C, 0x30, 0x78, hex[Int(b >> 4)], hex[Int(b & 15)], 0x3E]
                if let id = v.id(of: name) ?? v.id(of: [b]) ?? v.unknown { out.append(id) }
            }
        }
    }
}
