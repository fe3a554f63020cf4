/// An integer grid that GPTQ and SparseGPT round onto: per output row (and per group of
/// `groupSize` input columns, 0 for the whole row) a scale and zero point, fitted to the weights
/// as the sweep reaches the group (GPTQ's reference calls `find_params` at each group's first
/// column). The fit is the scheme's own (`IntegerReference`'s range rule for the quantize
/// schemes), so a calibrated tensor has exactly the layout round-to-nearest would give it.
public struct IntegerGrid: Sendable {
    /// Smallest and largest integer the storage holds (codes are clipped to them).
    public let qmin: Int, qmax: Int
    /// Input columns per group; 0 = one group per row.
    public let groupSize: Int
    /// Scales, `rows × groups` row-major (filled group by group by `fit`).
    public private(set) var scales: [Float]
    /// Zero points, same layout (0 for symmetric grids).
    public private(set) var zeroPoints: [Int]
    /// Rows and groups per row.
    public let rows: Int, groups: Int
    /// Scale and zero point of a group's values.
    let fitter: @Sendable ([Float]) -> (scale: Float, zeroPoint: Int)

    /// A grid for a `rows × columns` weight whose groups are fitted by `fit`.
    public init(qmin: Int, qmax: Int, groupSize: Int, rows: Int, columns: Int,
                fit: @escaping @Sendable ([Float]) -> (scale: Float, zeroPoint: Int)) {
        self.qmin = qmin
        self.qmax = qmax
        self.groupSize = groupSize
        self.rows = rows
        groups = groupSize > 0 ? (columns + groupSize - 1) / groupSize : 1
        scales = [Float](repeating: 1, count: rows * groups)
        zeroPoints = [Int](repeating: 0, count: rows * groups)
        fitter = fit
    }

    /// A min/max grid over [qmin, qmax]: symmetric (scale from the largest magnitude over the
    /// symmetric half-range, zero point 0) or asymmetric (the range spans min..max, 0 included).
    public init(qmin: Int, qmax: Int, symmetric: Bool, groupSize: Int, rows: Int, columns: Int) {
        self.init(qmin: qmin, qmax: qmax, groupSize: groupSize, rows: rows, columns: columns) { values in
            var lo: Float = 0, hi: Float = 0
            for v in values where v.isFinite { lo = min(lo, v); hi = max(hi, v) }
            if symmetric {
                let s = max(-lo, hi) / (Float(qmax - qmin) / 2)
                return (s > 0 ? s : 1, 0)
            }
            let s = (hi - lo) / Float(qmax - qmin)
            let scale = s > 0 ? s : 1
            return (scale, min(qmax, max(qmin, Int((Float(qmin) - lo / scale).rounded(.toNearestOrEven)))))
        }
    }

    /// The group of input column `column`.
    public func group(of column: Int) -> Int { groupSize > 0 ? column / groupSize : 0 }

    /// Fits row `row`'s parameters of group `g` to `values` (that row's weights in the group).
    public mutating func fit(row: Int, group g: Int, values: some Collection<Float>) {
        let (s, z) = fitter(Array(values))
        scales[row * groups + g] = s
        zeroPoints[row * groups + g] = z
    }

    /// Scale and zero point of row `row`, group `g`.
    public func parameters(row: Int, group g: Int) -> (scale: Float, zeroPoint: Int) {
        (scales[row * groups + g], zeroPoints[row * groups + g])
    }

    /// The integer `value` rounds to in row `row`, group `g` (half to even, clipped).
    public func code(row: Int, group g: Int, value: Float) -> Int {
        let i = row * groups + g
        let q = (value / scales[i]).rounded(.toNearestOrEven) + Float(zeroPoints[i])
        return Int(min(Float(qmax), max(Float(qmin), q)))
    }

    /// The grid point `value` rounds to (dequantized as ONNX DequantizeLinear does, in f32).
    public func round(row: Int, group g: Int, value: Float) -> Float {
        let i = row * groups + g
        return Float(code(row: row, group: g, value: value) - zeroPoints[i]) * scales[i]
    }
}
