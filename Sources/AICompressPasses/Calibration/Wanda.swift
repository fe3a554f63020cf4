/// Wanda (Sun et al., 2023): prune by |W_ij|·‖X_j‖₂ — the weight's magnitude times the norm of
/// the input it multiplies over the calibration set — comparing weights within each output row;
/// no weight is updated. Weights are `rows × columns` (rows the outputs).
public enum Wanda {
    /// The keep mask (`true` = kept), `rows × norms.count`. Unstructured patterns remove
    /// ⌊fraction·columns⌋ weights of every row; N:M remove `group − keep` of every group of a row
    /// (a trailing partial group keeps the same share, rounded down).
    public static func mask(_ weights: [Float], rows: Int, norms: [Double], pattern: SparsityPattern) -> [Bool] {
        let n = norms.count
        var keep = [Bool](repeating: true, count: rows * n)
        for r in 0..<rows {
            let scores = (0..<n).map { Double(abs(weights[r * n + $0])) * norms[$0] }
            switch pattern {
            case .unstructured(let f):
                for j in SparsityPattern.smallest(scores, count: Int((f * Double(n)).rounded(.down))) { keep[r * n + j] = false }
            case .nOfM(let k, let m):
                var start = 0
                while start < n {
                    let width = min(m, n - start)
                    let drop = width == m ? m - k : (m - k) * width / m
                    let window = Array(scores[start..<(start + width)])
                    for j in SparsityPattern.smallest(window, count: drop) { keep[r * n + start + j] = false }
                    start += width
                }
            }
        }
        return keep
    }

    /// The keep mask removing exactly `removing` weights of the layer (`rows × norms.count`),
    /// still compared within each row: row r loses ⌊removing·(r+1)/rows⌋ − ⌊removing·r/rows⌋
    /// (the shares add up to `removing`). The per-layer budgets of `--scope global` are counts.
    public static func mask(_ weights: [Float], rows: Int, norms: [Double], removing: Int) -> [Bool] {
        let n = norms.count, total = min(max(0, removing), rows * n)
        var keep = [Bool](repeating: true, count: rows * n)
        for r in 0..<rows {
            let scores = (0..<n).map { Double(abs(weights[r * n + $0])) * norms[$0] }
            for j in SparsityPattern.smallest(scores, count: total * (r + 1) / rows - total * r / rows) { keep[r * n + j] = false }
        }
        return keep
    }

    /// `weights` with the weights the mask drops set to 0.
    public static func prune(_ weights: [Float], rows: Int, norms: [Double], pattern: SparsityPattern) -> [Float] {
        let m = mask(weights, rows: rows, norms: norms, pattern: pattern)
        return zip(weights, m).map { $1 ? $0 : 0 }
    }
}
