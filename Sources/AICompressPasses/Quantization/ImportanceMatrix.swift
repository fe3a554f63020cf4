import AICompressCore

/// llama.cpp's importance matrix (the GGUF file `llama-imatrix` writes; tools/imatrix/imatrix.cpp,
/// common/imatrix-loader.cpp): for each weight `NAME`, `NAME.in_sum2` (f32, `[n_mat, ne0]`: the
/// sum over calibration tokens of each input column's squared activation) and `NAME.counts`
/// (f32, `[n_mat, 1]`: the tokens counted). A column's importance is in_sum2 / count (1 where the
/// count is 0), as llama-quantize computes it; it weights that column's squared error in the
/// least-squares scale search.
///
/// ```swift
/// let imatrix = try ImportanceMatrix(tensors: ModelIO.read(path).tensors, source: path)
/// let pass = try Quantize(scheme: .int4).withImportance(imatrix)
/// ```
public struct ImportanceMatrix: Sendable {
    /// Per weight name, the importance of each input column.
    public let columns: [String: [Float]]
    /// Weight names whose entries hold several matrices (experts), which this tool does not use.
    public let multiMatrix: Set<String>
    /// Where it was read from, for messages and provenance.
    public let source: String

    /// Errors of a malformed importance matrix; each names the file and the tensor.
    public enum Failure: Error, DataFault, CustomStringConvertible {
        /// No `NAME.in_sum2` tensor at all.
        case empty(source: String)
        /// An entry whose sums or counts are missing, not dense f32, or of inconsistent sizes.
        case invalidEntry(source: String, name: String, reason: String)

        /// Malformed input data.
        public var faultKind: FaultKind { .data }
        /// One line naming the file and tensor.
        public var description: String {
            switch self {
            case .empty(let s): return "\(s): no NAME.in_sum2 tensors; not a llama.cpp importance matrix (llama-imatrix GGUF output)"
            case .invalidEntry(let s, let n, let r): return "\(s): importance entry '\(n)': \(r)"
            }
        }
    }

    /// The importance matrix in `tensors` (the tensors of the GGUF file).
    /// - Throws: `Failure` for a file without entries or an entry that is not a dense f32
    ///   `in_sum2` / `counts` pair of matching sizes with finite, non-negative values.
    public init(tensors: [Tensor], source: String) throws {
        var sums: [String: Tensor] = [:], counts: [String: Tensor] = [:]
        for t in tensors {
            if t.name.hasSuffix(".in_sum2") { sums[String(t.name.dropLast(".in_sum2".count))] = t }
            if t.name.hasSuffix(".counts") { counts[String(t.name.dropLast(".counts".count))] = t }
        }
        guard !sums.isEmpty else { throw Failure.empty(source: source) }
        var columns: [String: [Float]] = [:], multi = Set<String>()
        for name in Set(sums.keys).union(counts.keys).sorted() {
            func invalid(_ r: String) -> Failure { .invalidEntry(source: source, name: name, reason: r) }
            guard let s = sums[name], let c = counts[name] else { throw invalid("has \(sums[name] == nil ? "counts but no in_sum2" : "in_sum2 but no counts")") }
            guard s.dtype == .f32, c.dtype == .f32, s.isDense, c.isDense else { throw invalid("in_sum2 and counts must be dense f32") }
            let n = c.elementCount
            guard n > 0, s.elementCount > 0, s.elementCount % n == 0 else {
                throw invalid("\(s.elementCount) sums do not divide into \(n) matrices")
            }
            let sum = s.floatValues(), count = c.floatValues()
            guard sum.allSatisfy({ $0.isFinite && $0 >= 0 }), count.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw invalid("sums and counts must be finite and non-negative")
            }
            if n > 1 { multi.insert(name) }
            let width = sum.count / n
            // llama-quantize: sums / count per matrix, 1 for a matrix nothing was counted for.
            columns[name] = sum.indices.map { i in
                let k = count[i / width].rounded()
                return k > 0 ? sum[i] / k : 1
            }
        }
        self.columns = columns
        multiMatrix = multi
        self.source = source
    }
}
