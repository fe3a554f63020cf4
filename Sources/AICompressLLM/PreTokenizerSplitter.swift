/// The splitting loops of `PreTokenizer` over code points, each taking and returning piece
/// lengths like llama.cpp's `bpe_offsets`.
struct Splitter {
    /// What llama.cpp's `unicode_cpt_flags` says of a code point (only the bits the splitters read).
    struct Flags {
        var letter = false, number = false, whitespace = false, punctuation = false
        /// In the piece (llama.cpp's out-of-range flags are all zero).
        var present = false
    }

    let cps: [UInt32]
    init(_ cps: [UInt32]) { self.cps = cps }

    static func classify(_ c: UInt32) -> Flags {
        guard let u = Unicode.Scalar(c) else { return Flags(present: true) }
        var f = Flags(present: true)
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: f.letter = true
        case .decimalNumber, .letterNumber, .otherNumber: f.number = true
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: f.punctuation = true
        default: break
        }
        f.whitespace = u.properties.isWhitespace
        return f
    }

    func flags(_ i: Int, in r: Range<Int>) -> Flags { r.contains(i) ? Splitter.classify(cps[i]) : Flags() }
    func flags(_ i: Int) -> Flags { Splitter.classify(cps[i]) }

    /// `[\p{P}\$\+<=>\^~\|]` on llama.cpp's collapsed text: ASCII punctuation as listed, any
    /// non-ASCII punctuation.
    static func isDefaultPunctuation(_ c: UInt32, _ f: Flags) -> Bool {
        if c < 128 { return f.punctuation || "$+<=>^~|".unicodeScalars.contains { $0.value == c } }
        return f.punctuation && !f.whitespace
    }

    /// Runs over every piece: `body(range, add)` where `add(end)` closes a word at `end` and
    /// returns its length.
    func forEachPiece(_ pieces: [Int], _ body: (Range<Int>, (Int) -> Int) -> Void) -> [Int] {
        var out = [Int]()
        out.reserveCapacity(pieces.count)
        var start = 0
        for len in pieces {
            let r = start..<(start + len)
            var prevEnd = r.lowerBound
            body(r) { end in
                let n = end - prevEnd
                if n > 0 { out.append(n) }
                prevEnd = end
                return n
            }
            start += len
        }
        return out
    }

    /// Isolates maximal runs (at most `maxRun` long) of code points matching `match`, keeping
    /// the text between them as pieces (a std::regex split that keeps non-matches).
    func isolateRuns(_ pieces: [Int], maxRun: Int, _ match: (Int) -> Bool) -> [Int] {
        forEachPiece(pieces) { r, add in
            var pos = r.lowerBound
            while pos < r.upperBound {
                if match(pos) {
                    _ = add(pos)
                    var n = 0
                    while pos < r.upperBound, n < maxRun, match(pos) { pos += 1; n += 1 }
                    _ = add(pos)
                } else {
                    pos += 1
                }
            }
            _ = add(r.upperBound)
        }
    }

    /// `[0-9][0-9][0-9]`: leftmost non-overlapping triples of ASCII digits isolated.
    func asciiDigitTriples(_ pieces: [Int]) -> [Int] {
        func digit(_ i: Int) -> Bool { cps[i] >= 0x30 && cps[i] <= 0x39 }
        return forEachPiece(pieces) { r, add in
            var pos = r.lowerBound
            while pos < r.upperBound {
                if pos + 3 <= r.upperBound, digit(pos), digit(pos + 1), digit(pos + 2) {
                    _ = add(pos)
                    pos += 3
                    _ = add(pos)
                } else {
                    pos += 1
                }
            }
            _ = add(r.upperBound)
        }
    }

    static let outOfRange = UInt32.max

    /// `unicode_regex_split_custom_gpt2`.
    func gpt2(_ pieces: [Int]) -> [Int] {
        forEachPiece(pieces) { r, add in
            func cpt(_ i: Int) -> UInt32 { r.contains(i) ? cps[i] : Splitter.outOfRange }
            var pos = r.lowerBound
            while pos < r.upperBound {
                let c = cpt(pos), f = flags(pos, in: r)
                if c == 0x27, pos + 1 < r.upperBound {  // 's 't 'm 'd 're 've 'll
                    let n = cpt(pos + 1)
                    if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 { pos += add(pos + 2); continue }
                    if pos + 2 < r.upperBound {
                        let nn = cpt(pos + 2)
                        if (n == 0x72 && nn == 0x65) || (n == 0x76 && nn == 0x65) || (n == 0x6C && nn == 0x6C) { pos += add(pos + 3); continue }
                    }
                }
                var f2 = c == 0x20 ? flags(pos + 1, in: r) : f
                if f2.letter || f2.number {
                    let letters = f2.letter
                    if c == 0x20 { pos += 1 }
                    while letters ? f2.letter : f2.number { pos += 1; f2 = flags(pos, in: r) }
                    _ = add(pos)
                    continue
                }
                if !(f2.whitespace || f2.letter || f2.number) && f2.present {
                    if c == 0x20 { pos += 1 }
                    while !(f2.whitespace || f2.letter || f2.number) && f2.present { pos += 1; f2 = flags(pos, in: r) }
                    _ = add(pos)
                    continue
                }
                var spaces = 0
                while flags(pos + spaces, in: r).whitespace { spaces += 1 }
                if spaces > 1 && cpt(pos + spaces) != Splitter.outOfRange { pos += spaces - 1; _ = add(pos); continue }
                if spaces > 0 { pos += spaces; _ = add(pos); continue }
                pos += 1
                _ = add(pos)
            }
        }
    }

    /// `unicode_regex_split_custom_llama3` (`maxDigits` 3) and `_qwen2` (1).
    func llama3(_ pieces: [Int], maxDigits: Int) -> [Int] {
        forEachPiece(pieces) { r, add in
            func cpt(_ i: Int) -> UInt32 { r.contains(i) ? cps[i] : Splitter.outOfRange }
            func lower(_ c: UInt32) -> UInt32 { c >= 0x41 && c <= 0x5A ? c + 32 : c }
            func newline(_ c: UInt32) -> Bool { c == 0x0D || c == 0x0A }
            var pos = r.lowerBound
            while pos < r.upperBound {
                let c = cpt(pos), f = flags(pos, in: r)
                if c == 0x27, pos + 1 < r.upperBound {
                    let n = lower(cpt(pos + 1))
                    if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 { pos += add(pos + 2); continue }
                    if pos + 2 < r.upperBound {
                        let nn = lower(cpt(pos + 2))
                        if (n == 0x72 && nn == 0x65) || (n == 0x76 && nn == 0x65) || (n == 0x6C && nn == 0x6C) { pos += add(pos + 3); continue }
                    }
                }
                // [^\r\n\p{L}\p{N}]?\p{L}+
                if !(newline(c) || f.number), f.letter || flags(pos + 1, in: r).letter {
                    pos += 1
                    while flags(pos, in: r).letter { pos += 1 }
                    _ = add(pos)
                    continue
                }
                // \p{N}{1,maxDigits}
                if f.number {
                    var ini = pos
                    while flags(pos, in: r).number {
                        pos += 1
                        if pos - ini >= maxDigits { _ = add(pos); ini = pos }
                    }
                    _ = add(pos)
                    continue
                }
                // <space>?[^\s\p{L}\p{N}]+[\r\n]*
                var f2 = c == 0x20 ? flags(pos + 1, in: r) : f
                if !(f2.whitespace || f2.letter || f2.number) && f.present {
                    if c == 0x20 { pos += 1 }
                    while !(f2.whitespace || f2.letter || f2.number) && f2.present { pos += 1; f2 = flags(pos, in: r) }
                    while newline(cpt(pos)) { pos += 1 }
                    _ = add(pos)
                    continue
                }
                var spaces = 0, lastNewlineEnd = 0
                while flags(pos + spaces, in: r).whitespace {
                    if newline(cpt(pos + spaces)) { lastNewlineEnd = pos + spaces + 1 }
                    spaces += 1
                }
                if lastNewlineEnd > 0 { pos = lastNewlineEnd; _ = add(pos); continue }
                if spaces > 1 && cpt(pos + spaces) != Splitter.outOfRange { pos += spaces - 1; _ = add(pos); continue }
                if spaces > 0 { pos += spaces; _ = add(pos); continue }
                pos += 1
                _ = add(pos)
            }
        }
    }
}
