/// SparseGPT (Frantar & Alistarh, 2023) for one linear layer: the same column sweep as GPTQ,
/// where each block's mask is chosen by w²/U[j][j]² (the weight's saliency given the inverse
/// Hessian) and the pruned weights' error is moved onto the weights not yet fixed. With a grid
/// the kept weights are also rounded onto it in the same sweep, each rounding error spread like a
/// pruned weight's (the paper's joint sparsification and quantization: sparse + quantized in one
/// pass); the grid's scales are fitted to the kept weights of a pruning-only sweep run first.
public struct SparseGPT: Sendable {
    /// Dampening fraction of the mean Hessian diagonal.
    public var dampFraction: Double
    /// Columns per block: the mask of an unstructured pattern is chosen per block.
    public var blockSize: Int

    /// SparseGPT with the paper's defaults (1% dampening, blocks of 128).
    public init(dampFraction: Double = 0.01, blockSize: Int = 128) {
        self.dampFraction = dampFraction
        self.blockSize = blockSize
    }

    /// What one layer's pruning gave.
    public struct Result: Sendable {
        /// The new weights, `rows × columns` (pruned ones exactly 0).
        public var weights: [Float]
        /// The keep mask.
        public var mask: [Bool]
        /// The grid, when the kept weights were quantized.
        public var grid: IntegerGrid?
        /// Σ e²/2 of the sweep.
        public var loss: Double
    }

    /// Prunes `weights` (`rows × statistics.columns`) to `pattern`, quantizing onto `grid` when given.
    /// - Throws: `PassError.unsupported` when the statistics have no XᵀX or are not finite.
    public func prune(_ weights: [Float], rows: Int, statistics: LayerStatistics, pattern: SparsityPattern,
                      grid: IntegerGrid? = nil, layer: String) throws -> Result {
        let n = statistics.columns
        guard statistics.hasGram else {
            throw PassError.unsupported(tensor: layer, reason: "SparseGPT needs the calibration Gram matrix XᵀX of the layer's input")
        }
        let factor = try HessianFactor(gram: statistics.symmetricGram, columns: n, dampFraction: dampFraction, layer: layer)
        return prune(weights, rows: rows, factor: factor, pattern: pattern, grid: grid)
    }

    /// Prunes `weights` (`rows × factor.columns`) with an already factored Hessian: layers that
    /// read the same input (a decoder's q/k/v, gate/up) share one factor. `dampFraction` is the
    /// factor's, not this value's.
    public func prune(_ weights: [Float], rows: Int, factor: HessianFactor, pattern: SparsityPattern,
                      grid: IntegerGrid? = nil) -> Result {
        let n = factor.columns
        var block = blockSize
        if let g = grid, g.groupSize > 0 { block = max(block, g.groupSize) / g.groupSize * g.groupSize }
        if case .nOfM(_, let m) = pattern { block = max(block, m) / m * m }
        var fitted = grid
        if var g = grid {
            // The joint mode's scales come from a pruning-only sweep first: pruning moves much
            // more weight than rounding does, so a group's range fitted to its weights before
            // the sweep has compensated the pruned ones would clip the kept ones it grows.
            var pruned = weights
            var plain = SparseGPTRule(pattern: pattern, grid: nil, rows: rows, columns: n)
            OBSSweep(blockSize: block).run(&pruned, rows: rows, factor: factor, rule: &plain)
            g.fit(keptOf: pruned, keep: plain.keep, columns: n)
            fitted = g
        }
        var w = weights
        var rule = SparseGPTRule(pattern: pattern, grid: fitted, rows: rows, columns: n)
        let loss = OBSSweep(blockSize: block).run(&w, rows: rows, factor: factor, rule: &rule)
        return Result(weights: w, mask: rule.keep, grid: rule.grid, loss: loss)
    }

    /// Prunes exactly `removing` of the weights (`rows × factor.columns`), unstructured: each
    /// block's share is ⌊removing·end/n⌋ − ⌊removing·start/n⌋ (block `start..<end` of the n
    /// columns; the shares add up to `removing`), chosen and compensated as `prune(pattern:)`
    /// does. The per-layer budgets of `--scope global` (`SparsityAllocation`) are counts.
    public func prune(_ weights: [Float], rows: Int, factor: HessianFactor, removing: Int) -> Result {
        let n = factor.columns
        var w = weights
        var rule = SparseGPTRule(pattern: .unstructured(fraction: 0), grid: nil, rows: rows, columns: n)
        rule.removing = min(max(0, removing), rows * n)
        let loss = OBSSweep(blockSize: blockSize).run(&w, rows: rows, factor: factor, rule: &rule)
        return Result(weights: w, mask: rule.keep, grid: nil, loss: loss)
    }
}

extension IntegerGrid {
    /// Fits every row's groups to the kept weights of `values` (`rows × columns`; `keep` the
    /// mask): a pruned weight is 0, which every grid holds exactly, so it takes no part in the range.
    mutating func fit(keptOf values: [Float], keep: [Bool], columns n: Int) {
        let width = groupSize > 0 ? groupSize : n
        for r in 0..<rows {
            for g in 0..<groups {
                let range = (r * n + g * width)..<(r * n + min(n, (g + 1) * width))
                fit(row: r, group: g, values: range.compactMap { keep[$0] ? values[$0] : nil })
            }
        }
    }
}

/// SparseGPT's decision per column: at a block's (or N:M group's) first column choose which of
/// its weights go, by w²/U[j][j]²; then fix a weight to 0 when it goes, else to itself or its
/// point on `grid` (already fitted: `SparseGPT.prune` fits it from a pruning-only sweep).
struct SparseGPTRule: OBSColumnRule {
    let pattern: SparsityPattern
    let grid: IntegerGrid?
    var keep: [Bool]
    let columns: Int
    /// When set, the whole layer loses exactly this many weights (unstructured only), shared
    /// out over the blocks in proportion to their width; else `pattern`'s fraction of each block.
    var removing: Int?

    init(pattern: SparsityPattern, grid: IntegerGrid?, rows: Int, columns: Int) {
        self.pattern = pattern
        self.grid = grid
        self.columns = columns
        keep = [Bool](repeating: true, count: rows * columns)
    }

    mutating func begin(column c: Int, blockStart: Int, blockEnd: Int, weights: UnsafeBufferPointer<Float>,
                        rows: Int, columns n: Int, diagonal: [Double]) {
        func score(_ r: Int, _ j: Int) -> Double {
            let w = Double(weights[r * n + j]), d = diagonal[j]
            return w * w / (d * d)
        }
        switch pattern {
        case .unstructured(let f) where c == blockStart:
            let width = blockEnd - blockStart
            var scores: [Double] = []
            scores.reserveCapacity(rows * width)
            for r in 0..<rows { for j in blockStart..<blockEnd { scores.append(score(r, j)) } }
            let drop = removing.map { $0 * blockEnd / n - $0 * blockStart / n } ?? Int((f * Double(scores.count)).rounded(.down))
            for i in SparsityPattern.smallest(scores, count: drop) {
                keep[(i / width) * n + blockStart + i % width] = false
            }
        case .nOfM(let k, let m) where c % m == 0:
            let width = min(m, n - c)
            let drop = width == m ? m - k : (m - k) * width / m
            for r in 0..<rows {
                let window = (c..<(c + width)).map { score(r, $0) }
                for j in SparsityPattern.smallest(window, count: drop) { keep[r * n + c + j] = false }
            }
        default: break
        }
    }

    func fix(row: Int, column c: Int, value: Float) -> Float {
        guard keep[row * columns + c] else { return 0 }
        guard let g = grid else { return value }
        return g.round(row: row, group: g.group(of: c), value: value)
    }
}
