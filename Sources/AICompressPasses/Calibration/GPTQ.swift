/// GPTQ (Frantar et al., 2022) for one linear layer: quantizes the weights column by column
/// onto an `IntegerGrid`, each time moving the columns not yet quantized so that the layer's
/// output on the calibration inputs changes as little as possible. Weights are `rows × columns`
/// with rows the outputs and columns the inputs (the layout of `Gemm` with `transB`; callers
/// transpose a `MatMul` weight).
public struct GPTQ: Sendable {
    /// Dampening: this fraction of the mean Hessian diagonal is added to it (0.01 as in the paper).
    public var dampFraction: Double
    /// Columns per lazy-update block.
    public var blockSize: Int
    /// Quantize columns in order of decreasing Hessian diagonal (the paper's act-order); the
    /// grid's groups are then fitted once from the unquantized weights ("static groups"), so the
    /// result is stored as an ordinary grouped tensor.
    public var actOrder: Bool

    /// GPTQ with the paper's defaults.
    public init(dampFraction: Double = 0.01, blockSize: Int = 128, actOrder: Bool = false) {
        self.dampFraction = dampFraction
        self.blockSize = blockSize
        self.actOrder = actOrder
    }

    /// What one layer's quantization gave.
    public struct Result: Sendable {
        /// The quantized weights (every value a point of `grid`), `rows × columns`.
        public var weights: [Float]
        /// The grid with its fitted scales and zero points.
        public var grid: IntegerGrid
        /// Σ e²/2 of the sweep (the proxy of the output error GPTQ minimises).
        public var loss: Double
    }

    /// Quantizes `weights` (`rows × statistics.columns`) onto `grid`.
    /// - Throws: `PassError.unsupported` when the statistics have no XᵀX or are not finite.
    public func quantize(_ weights: [Float], rows: Int, statistics: LayerStatistics, grid: IntegerGrid,
                         layer: String) throws -> Result {
        let n = statistics.columns
        guard statistics.hasGram else {
            throw PassError.unsupported(tensor: layer, reason: "GPTQ needs the calibration Gram matrix XᵀX of the layer's input")
        }
        var gram = statistics.symmetricGram
        var w = weights
        let order = actOrder ? Self.actOrder(gram, n) : Array(0..<n)
        if actOrder {
            gram = Self.permuted(gram, n, order)
            w = Self.permutedColumns(w, rows, n, order)
        }
        let factor = try HessianFactor(gram: gram, columns: n, dampFraction: dampFraction, layer: layer)
        let block = grid.groupSize > 0 ? max(blockSize, grid.groupSize) / grid.groupSize * grid.groupSize : blockSize
        var rule = GPTQRule(grid: grid, order: order, staticGroups: actOrder, original: weights, columns: n)
        let loss = OBSSweep(blockSize: block).run(&w, rows: rows, factor: factor, rule: &rule)
        if actOrder { w = Self.permutedColumns(w, rows, n, Self.inverse(order)) }
        return Result(weights: w, grid: rule.grid, loss: loss)
    }

    /// Columns by decreasing Hessian diagonal (ties in column order).
    static func actOrder(_ h: [Double], _ n: Int) -> [Int] {
        (0..<n).sorted { a, b in h[a * n + a] != h[b * n + b] ? h[a * n + a] > h[b * n + b] : a < b }
    }

    static func permuted(_ h: [Double], _ n: Int, _ p: [Int]) -> [Double] {
        var r = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { r[i * n + j] = h[p[i] * n + p[j]] } }
        return r
    }

    static func permutedColumns(_ w: [Float], _ rows: Int, _ n: Int, _ p: [Int]) -> [Float] {
        var r = w
        for row in 0..<rows { for j in 0..<n { r[row * n + j] = w[row * n + p[j]] } }
        return r
    }

    static func inverse(_ p: [Int]) -> [Int] {
        var r = p
        for (i, v) in p.enumerated() { r[v] = i }
        return r
    }
}

/// GPTQ's decision per column: fit the grid when a group begins (from the current, already
/// updated weights), then round to it. With act-order the sweep's column c is the model's
/// column `order[c]`, and groups were fitted up front.
struct GPTQRule: OBSColumnRule {
    var grid: IntegerGrid
    let order: [Int]
    let staticGroups: Bool

    init(grid: IntegerGrid, order: [Int], staticGroups: Bool, original: [Float], columns n: Int) {
        self.grid = grid
        self.order = order
        self.staticGroups = staticGroups
        if staticGroups {
            let width = grid.groupSize > 0 ? grid.groupSize : n
            for r in 0..<grid.rows {
                for g in 0..<grid.groups {
                    let lo = g * width, hi = min(n, lo + width)
                    self.grid.fit(row: r, group: g, values: original[(r * n + lo)..<(r * n + hi)])
                }
            }
        }
    }

    mutating func begin(column c: Int, blockStart: Int, blockEnd: Int, weights: UnsafeBufferPointer<Float>,
                        rows: Int, columns n: Int, diagonal: [Double]) {
        guard !staticGroups else { return }
        let width = grid.groupSize > 0 ? grid.groupSize : n
        guard c % width == 0 else { return }
        let g = grid.group(of: c), hi = min(n, c + width)
        for r in 0..<rows { grid.fit(row: r, group: g, values: weights[(r * n + c)..<(r * n + hi)]) }
    }

    func fix(row: Int, column c: Int, value: Float) -> Float {
        grid.round(row: row, group: grid.group(of: order[c]), value: value)
    }
}
