import Foundation

/// llama-imatrix's statistics, gathered through the decoder's `ActivationObserver` hook: per
/// weight matrix of the blocks, Σ x_j² over every calibration token for each input column j (in
/// float, rows in order, as tools/imatrix/imatrix.cpp adds them) and the number of tokens.
///
/// ```swift
/// let collector = try ImportanceCollector.run(model, text: bytes, context: 512, chunks: 100)
/// let file = try ImportanceMatrixWriter.encode(collector, datasets: ["calibration.txt"])
/// ```
public final class ImportanceCollector: ActivationObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var sums: [String: [Float]] = [:]
    private var tokenCounts: [String: Int] = [:]
    /// Chunks run (`imatrix.chunk_count`).
    public private(set) var chunks = 0
    /// Tokens per chunk (`imatrix.chunk_size`).
    public private(set) var chunkSize = 0

    /// An empty collector.
    public init() {}

    /// Adds Σ x² of `rows` rows to the weight's column sums and `rows` to its count.
    public func observe(_ site: ActivationSite, input: UnsafePointer<Float>, rows: Int, columns: Int) {
        lock.lock()
        defer { lock.unlock() }
        let name = site.tensorName
        sums[name, default: [Float](repeating: 0, count: columns)].withUnsafeMutableBufferPointer { acc in
            guard acc.count == columns else { return }
            for r in 0..<rows {
                let x = input + r * columns
                for j in 0..<columns { acc[j] += x[j] * x[j] }
            }
        }
        tokenCounts[name, default: 0] += rows
    }

    /// The entries, by weight name in byte order (as llama-imatrix stores them): column sums
    /// and token count.
    public var entries: [(name: String, sums: [Float], count: Int)] {
        lock.lock()
        defer { lock.unlock() }
        return sums.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { ($0, sums[$0] ?? [], tokenCounts[$0] ?? 0) }
    }

    /// Runs `model` over `text` as llama-imatrix does and returns the statistics: the text
    /// tokenized once (BOS as the vocabulary asks), cut into `context`-token chunks (at most
    /// `chunks`), each run from an empty cache with its first token replaced by BOS.
    /// `progress(done, total)` follows every chunk.
    /// - Throws: `LLMError.invalidParameter` (context below 16, chunks below 1: llama-imatrix
    ///   skips products of fewer than 16 rows), `.textTooShort` (fewer than 2 × context tokens),
    ///   `.tokenizer`, `.tokenOutOfRange`.
    public static func run(_ model: LanguageModel, text: [UInt8], context: Int, chunks: Int?,
                           progress: (Int, Int) -> Void = { _, _ in }) throws(LLMError) -> ImportanceCollector {
        guard context >= 16 else { throw .invalidParameter(name: "context", reason: "is \(context); it must be at least 16") }
        if let c = chunks, c < 1 { throw .invalidParameter(name: "chunks", reason: "is \(c); it must be at least 1") }
        let tokens = try model.tokenizer.tokenize(text, addSpecial: true)
        guard tokens.count >= 2 * context else { throw .textTooShort(tokens: tokens.count, needed: 2 * context, context: context) }
        let count = min(chunks ?? Int.max, tokens.count / context)
        let collector = ImportanceCollector()
        var decoder = model.decoder
        decoder.observer = collector
        let bos = model.tokenizer.vocabulary.addBOS ? model.tokenizer.vocabulary.bos : nil
        for c in 0..<count {
            var chunk = Array(tokens[(c * context)..<((c + 1) * context)])
            if let b = bos { chunk[0] = b }
            _ = try decoder.hiddenStates(chunk)
            progress(c + 1, count)
        }
        collector.chunks = count
        collector.chunkSize = context
        return collector
    }
}
