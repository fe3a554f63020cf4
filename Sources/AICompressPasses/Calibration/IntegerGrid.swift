/// An integer grid that GPTQ and SparseGPT round onto: per output row (and per group of
/// `groupSize` input columns, 0 for the whole row) a scale — and for an asymmetric grid a zero
/// point — fitted by min/max to the weights as the sweep reaches the group, the way GPTQ's
/// reference quantizer does (`find_params` at each group's first column).
public struct IntegerGrid: Sendable, Equatable {
    /// Smallest and largest integer.
    public let qmin: Int, qmax: Int
    /// Symmetric around 0 (scale from the largest magnitude, no zero point).
    public let symmetric: Bool
    /// Input columns per group; 0 = one group per row.
    public let groupSize: Int
    /// Scales, `rows × groups` row-major (filled group by group by `fit`).
    public private(set) var scales: [Float]
    /// Zero points (asymmetric), same layout.
    public private(set) var zeroPoints: [Int]
    /// Rows and groups per row.
    public let rows: Int, groups: Int

    /// A grid for a `rows × columns` weight.
    public init(qmin: Int, qmax: Int, symmetric: Bool, groupSize: Int, rows: Int, columns: Int) {
        self.qmin = qmin
        self.qmax = qmax
        self.symmetric = symmetric
        self.groupSize = groupSize
        self.rows = rows
        groups = groupSize > 0 ? (columns + groupSize - 1) / groupSize : 1
        scales = [Float](repeating: 1, count: rows * groups)
        zeroPoints = [Int](repeating: 0, count: rows * groups)
    }

    /// The group of input column `column`.
    public func group(of column: Int) -> Int { groupSize > 0 ? column / groupSize : 0 }

    /// Fits row `row`'s parameters of group `g` to `values` (that row's weights in the group).
    public mutating func fit(row: Int, group g: Int, values: some Collection<Float>) {
        var lo: Float = 0, hi: Float = 0
        for v in values where v.isFinite { lo = min(lo, v); hi = max(hi, v) }
        let i = row * groups + g
        if symmetric {
            let m = max(-lo, hi)
            let s = m / (Float(qmax - qmin) / 2)
            scales[i] = s > 0 ? s : 1
            zeroPoints[i] = 0
        } else {
            let s = (hi - lo) / Float(qmax - qmin)
            scales[i] = s > 0 ? s : 1
            zeroPoints[i] = min(qmax, max(qmin, Int((Float(qmin) - lo / scales[i]).rounded(.toNearestOrEven))))
        }
    }

    /// The integer `value` rounds to in row `row`, group `g`.
    public func code(row: Int, group g: Int, value: Float) -> Int {
        let i = row * groups + g
        let q = (value / scales[i]).rounded(.toNearestOrEven) + Float(zeroPoints[i])
        return Int(min(Float(qmax), max(Float(qmin), q)))
    }

    /// The grid point `value` rounds to (dequantized).
    public func round(row: Int, group g: Int, value: Float) -> Float {
        let i = row * groups + g
        return Float(code(row: row, group: g, value: value) - zeroPoints[i]) * scales[i]
    }
}
