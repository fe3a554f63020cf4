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

    /// Empty statistics for a layer with `columns` inputs; `gram` asks for XᵀX too
    /// (`columns²` doubles: refused by the caller when that does not fit its memory budget).
    public init(columns: Int, gram: Bool) {
        self.columns = columns
        sumOfSquares = [Double](repeating: 0, count: columns)
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
            for j in 0..<n { sumOfSquares[j] += Double(row[j]) * Double(row[j]) }
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

    /// ‖X_j‖₂ per column: Wanda's activation norm.
    public var columnNorms: [Double] { sumOfSquares.map { $0.squareRoot() } }
}
