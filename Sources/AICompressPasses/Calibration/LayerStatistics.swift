/// What calibration gathers about one linear layer's input: the sum of squares of every input
/// column (the importance matrix of llama.cpp, Wanda's ‖X_j‖²) and, when asked, the Gram matrix
/// XᵀX that GPTQ and SparseGPT need. Rows are added batch by batch, so the layer's inputs for the
/// whole calibration set are never held at once. Sums are kept in Double: a few thousand rows of
/// f32 activations would lose digits in f32.
public struct LayerStatistics: Sendable, Equatable {
    /// Input columns (the layer's fan-in).
    public let columns: Int
    /// Rows (tokens or samples) added so far.
    public private(set) var rows = 0
    /// Σ x_j² over the rows, per column.
    public private(set) var sumOfSquares: [Double]
    /// XᵀX, `columns × columns` row-major, when gathered (empty otherwise).
    public private(set) var gram: [Double]
    /// Σ x_j over the rows, per column (the mean that `centered` removes).
    public private(set) var sums: [Double]
    /// How the dense model's input to the same layer differs from this one, when gathered
    /// (`LayerwiseCalibration`'s dense targets; nil otherwise).
    public internal(set) var reference: InputShift?

    /// Empty statistics for a layer with `columns` inputs; `gram` asks for XᵀX too
    /// (`columns²` doubles: refused by the caller when that does not fit its memory budget).
    public init(columns: Int, gram: Bool) {
        self.columns = columns
        sumOfSquares = [Double](repeating: 0, count: columns)
        sums = [Double](repeating: 0, count: columns)
        self.gram = gram ? [Double](repeating: 0, count: columns * columns) : []
    }

    /// Whether XᵀX is gathered.
    public var hasGram: Bool { !gram.isEmpty }

    /// Adds `count` rows stored row-major in `x` (`count × columns`).
    public mutating func add(_ x: UnsafeBufferPointer<Float>, rows count: Int) {
        precondition(x.count >= count * columns, "LayerStatistics.add: buffer smaller than rows × columns")
        let n = columns
        for r in 0..<count {
            let row = x.baseAddress! + r * n
            for j in 0..<n {
                sumOfSquares[j] += Double(row[j]) * Double(row[j])
                sums[j] += Double(row[j])
            }
        }
        if hasGram {
            gram.withUnsafeMutableBufferPointer { g in
                var xd = [Double](repeating: 0, count: n)
                for r in 0..<count {
                    let row = x.baseAddress! + r * n
                    for j in 0..<n { xd[j] = Double(row[j]) }
                    // Upper triangle only; mirrored in `symmetricGram`.
                    for i in 0..<n where xd[i] != 0 {
                        let xi = xd[i], gi = g.baseAddress! + i * n
                        for j in i..<n { gi[j] += xi * xd[j] }
                    }
                }
            }
        }
        rows += count
    }

    /// Adds rows given as an array (`count × columns`).
    public mutating func add(_ x: [Float], rows count: Int) {
        x.withUnsafeBufferPointer { add($0, rows: count) }
    }

    /// XᵀX with both triangles filled.
    public var symmetricGram: [Double] {
        var g = gram
        let n = columns
        for i in 0..<n { for j in 0..<i { g[i * n + j] = g[j * n + i] } }
        return g
    }

    /// The statistics of the inputs with their mean removed, (X − 1μᵀ)ᵀ(X − 1μᵀ) = XᵀX − N·μμᵀ:
    /// the Hessian of a layer whose bias is refitted with its weights (for any weights the best
    /// bias takes the mean error away, and what is left is the centred error). A column whose
    /// centred energy is below 1e-9 of its plain one is constant: its row and column become 0,
    /// which `HessianFactor` treats as dead (its weight's part moves into the bias).
    /// The reference, when there is one, is centred the same way.
    public var centered: LayerStatistics {
        var c = self
        let n = columns, count = Double(max(rows, 1))
        let mean = sums.map { $0 / count }
        for j in 0..<n { c.sumOfSquares[j] = max(0, sumOfSquares[j] - count * mean[j] * mean[j]) }
        if hasGram {
            for i in 0..<n { for j in i..<n { c.gram[i * n + j] = gram[i * n + j] - count * mean[i] * mean[j] } }
        }
        for j in 0..<n where c.sumOfSquares[j] <= 1e-9 * sumOfSquares[j] {
            c.sumOfSquares[j] = 0
            if hasGram { for k in 0..<n { c.gram[min(j, k) * n + max(j, k)] = 0 } }
        }
        c.reference = reference?.centered(on: mean, rows: rows)
        return c
    }

    /// ‖X_j‖₂ per column: Wanda's activation norm.
    public var columnNorms: [Double] { sumOfSquares.map { $0.squareRoot() } }
}
