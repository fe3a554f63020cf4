import AICompressCore
import Foundation

/// Perplexity of a language model on a text, and its divergence from a base model, computed as
/// llama-perplexity computes them: the whole text tokenized once (BOS as the vocabulary asks),
/// cut into chunks of `context` tokens, each chunk run from an empty cache with its first token
/// replaced by BOS (when the vocabulary adds one), and only the second half of each chunk
/// scored (the model always has at least context/2 tokens before the one it predicts).
public struct TextEvaluation: Sendable {
    /// Tokens per chunk (llama-perplexity's `-c`).
    public var context: Int
    /// At most this many chunks (all when nil; llama-perplexity's `--chunks`).
    public var chunks: Int?
    /// Rows of logits computed at once (bounds memory to rows × vocabulary floats per model).
    public var logitRows = 64

    /// An evaluation with `context` tokens per chunk.
    /// - Throws: `LLMError.invalidParameter` for a context below 4 or chunks below 1.
    public init(context: Int = 512, chunks: Int? = nil) throws(LLMError) {
        guard context >= 4 else { throw .invalidParameter(name: "context", reason: "is \(context); it must be at least 4") }
        if let c = chunks, c < 1 { throw .invalidParameter(name: "chunks", reason: "is \(c); it must be at least 1") }
        self.context = context
        self.chunks = chunks
    }

    /// Mean and its standard error from a sum and a sum of squares (llama-perplexity's
    /// `mean_and_uncertainty`: no error below 11 samples).
    public static func meanAndError(_ sum: Double, _ sum2: Double, _ n: Int) -> (Double, Double) {
        guard n >= 1 else { return (0, 0) }
        let f = sum / Double(n), df = sum2 / Double(n) - f * f
        return (f, df > 0 && n > 10 ? (df / Double(n - 1)).squareRoot() : 0)
    }

    /// Runs `model` (and `base`, when given, on the same tokens) over `text`.
    /// `progress(done, total)` is called after every chunk.
    /// - Throws: `LLMError.textTooShort`, `.vocabularyMismatch`, `.tokenOutOfRange`,
    ///   `.tokenizer`.
    public func run(_ model: LanguageModel, base: LanguageModel? = nil, text: [UInt8],
                    progress: (Int, Int) -> Void = { _, _ in }) throws(LLMError) -> TextEvaluationResult {
        let started = Date()
        let tokens = try model.tokenizer.tokenize(text, addSpecial: true)
        let vocab = model.decoder.config.vocabulary
        if let b = base {
            guard b.decoder.config.vocabulary == vocab else {
                throw .vocabularyMismatch("\(vocab) logits per token against the base model's \(b.decoder.config.vocabulary)")
            }
            let baseTokens = try b.tokenizer.tokenize(text, addSpecial: true)
            guard baseTokens == tokens else {
                throw .vocabularyMismatch("the text is \(tokens.count) tokens for the model, \(baseTokens.count) for the base model, or the ids differ")
            }
        }
        guard tokens.count >= 2 * context else { throw .textTooShort(tokens: tokens.count, needed: 2 * context, context: context) }
        let chunkCount = min(chunks ?? Int.max, tokens.count / context)
        let first = context / 2
        var acc = TextEvaluationResult.Accumulator(base: base != nil)
        let bos = model.tokenizer.vocabulary.addBOS ? model.tokenizer.vocabulary.bos : nil
        for c in 0..<chunkCount {
            var chunk = Array(tokens[(c * context)..<((c + 1) * context)])
            if let b = bos { chunk[0] = b }
            let hidden = try model.decoder.hiddenStates(chunk)
            let baseHidden = try base?.decoder.hiddenStates(chunk)
            var row = first
            while row < context - 1 {
                let n = min(logitRows, context - 1 - row)
                let logits = Self.logits(model.decoder, hidden, rows: row..<(row + n))
                let baseLogits = base.map { Self.logits($0.decoder, baseHidden ?? [], rows: row..<(row + n)) }
                // Rows are scored on both cores and summed in row order (deterministic).
                let base0 = c * context + row + 1
                if let bl = baseLogits {
                    let scores = logits.withUnsafeBufferPointer { lp in
                        bl.withUnsafeBufferPointer { bp in
                            nonisolated(unsafe) let (l, b) = (lp.baseAddress!, bp.baseAddress!)
                            return Parallel.map(n) { k in
                                TokenScores.compare(l + k * vocab, vocab, base: TokenScores.BaseRow(b + k * vocab, vocab),
                                                    tok: Int(tokens[base0 + k]))
                            }
                        }
                    }
                    for s in scores { acc.add(s) }
                } else {
                    let nlls = logits.withUnsafeBufferPointer { lp in
                        nonisolated(unsafe) let l = lp.baseAddress!
                        return Parallel.map(n) { k in TokenScores.nll(l + k * vocab, vocab, Int(tokens[base0 + k])) }
                    }
                    for v in nlls { acc.add(nll: v) }
                }
                row += n
            }
            progress(c + 1, chunkCount)
        }
        return acc.result(tokens: tokens.count, chunks: chunkCount, context: context,
                          seconds: Date().timeIntervalSince(started))
    }

    static func logits(_ d: Decoder, _ hidden: [Float], rows: Range<Int>) -> [Float] {
        var out = [Float](repeating: 0, count: rows.count * d.config.vocabulary)
        hidden.withUnsafeBufferPointer { h in
            out.withUnsafeMutableBufferPointer { o in
                d.logits(h.baseAddress! + rows.lowerBound * d.config.embedding, rows: rows.count, into: o.baseAddress!)
            }
        }
        return out
    }
}
