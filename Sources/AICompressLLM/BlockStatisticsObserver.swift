import AICompressTraining
import Foundation

/// The observer the layer-by-layer calibration runs one block with: for each input group it
/// adds Σx² and Σ|x| per column and, when asked, XᵀX (each sequence's product in float by BLAS, added
/// into Double accumulators, so the sum over sequences does not lose precision as it grows).
/// Sees only the block it was made for; a group's input arrives once per projection reading it,
/// and is counted at the first one only.
final class BlockStatisticsObserver: ActivationObserver, @unchecked Sendable {
    private let lock = NSLock()
    private let layer: Int
    private let gram: Bool
    private var sums: [BlockInputStatistics.Group: [Double]] = [:]
    private var grams: [BlockInputStatistics.Group: [Double]] = [:]
    private var absolutes: [BlockInputStatistics.Group: [Double]] = [:]
    private var rows: [BlockInputStatistics.Group: Int] = [:]
    private var columns: [BlockInputStatistics.Group: Int] = [:]
    private var crosses: [BlockInputStatistics.Group: [Double]] = [:]
    /// The unchanged model's inputs of this block for the sequence being run, in the decoder's
    /// order (`BlockInputRecorder`): each observed input is paired with the next one and ΔᵀX
    /// is summed. Set before each sequence; nil: no dense targets.
    var reference: [BlockInputRecorder.Input]? {
        didSet { cursor = 0 }
    }
    private var cursor = 0

    init(layer: Int, gram: Bool) {
        self.layer = layer
        self.gram = gram
    }

    func observe(_ site: ActivationSite, input: UnsafePointer<Float>, rows t: Int, columns n: Int) {
        let group = BlockInputStatistics.Group(site.kind)
        // A fused weight (phi3's ffn_up arrives as `.up`) is its group's one reader.
        guard site.layer == layer, site.fused || group.kinds.first == site.kind, t > 0, n > 0 else { return }
        lock.lock()
        defer { lock.unlock() }
        columns[group] = n
        rows[group, default: 0] += t
        if let reference {
            precondition(cursor < reference.count && reference[cursor].group == group && reference[cursor].values.count == t * n,
                         "BlockStatisticsObserver: the dense run observed other inputs")
            addShift(group, dense: reference[cursor].values, input, t, n)
            cursor += 1
        }
        sums[group, default: [Double](repeating: 0, count: n)].withUnsafeMutableBufferPointer { acc in
            for r in 0..<t {
                let x = input + r * n
                for j in 0..<n { acc[j] += Double(x[j]) * Double(x[j]) }
            }
        }
        absolutes[group, default: [Double](repeating: 0, count: n)].withUnsafeMutableBufferPointer { acc in
            for r in 0..<t {
                let x = input + r * n
                for j in 0..<n { acc[j] += Double(abs(x[j])) }
            }
        }
        guard gram else { return }
        var product = [Float](repeating: 0, count: n * n)
        product.withUnsafeMutableBufferPointer { p in
            BLAS.gemm(transA: true, transB: false, m: n, n: n, k: t, input, input, p.baseAddress!)
        }
        grams[group, default: [Double](repeating: 0, count: n * n)].withUnsafeMutableBufferPointer { acc in
            for i in 0..<(n * n) { acc[i] += Double(product[i]) }
        }
    }

    /// ΔᵀX += (dense − x)ᵀ x over the `t` rows, through BLAS in f32 per sequence, summed in Double;
    /// nothing when the two inputs are equal.
    private func addShift(_ group: BlockInputStatistics.Group, dense: [Float], _ input: UnsafePointer<Float>, _ t: Int, _ n: Int) {
        var delta = [Float](repeating: 0, count: t * n)
        var any = false
        for i in 0..<(t * n) {
            delta[i] = dense[i] - input[i]
            if delta[i] != 0 { any = true }
        }
        guard any else { return }
        var product = [Float](repeating: 0, count: n * n)
        product.withUnsafeMutableBufferPointer { p in
            delta.withUnsafeBufferPointer { d in BLAS.gemm(transA: true, transB: false, m: n, n: n, k: t, d.baseAddress!, input, p.baseAddress!) }
        }
        crosses[group, default: [Double](repeating: 0, count: n * n)].withUnsafeMutableBufferPointer { acc in
            for i in 0..<(n * n) { acc[i] += Double(product[i]) }
        }
    }

    /// The statistics gathered (every group the block ran).
    func statistics() -> [BlockInputStatistics.Group: BlockInputStatistics] {
        lock.lock()
        defer { lock.unlock() }
        var out: [BlockInputStatistics.Group: BlockInputStatistics] = [:]
        for (group, n) in columns {
            out[group] = BlockInputStatistics(group: group, columns: n, rows: rows[group] ?? 0,
                                              sumSquares: sums[group] ?? [], gram: grams[group],
                                              sumAbsolute: absolutes[group], cross: crosses[group])
        }
        return out
    }

    /// `statistics()`, handing over its XᵀX and ΔᵀX matrices: the observer keeps none, so a
    /// compressor that releases them (`DecoderBlockCalibration.releaseMatrices`) frees them.
    func takeStatistics() -> [BlockInputStatistics.Group: BlockInputStatistics] {
        let out = statistics()
        lock.lock()
        defer { lock.unlock() }
        grams = [:]
        crosses = [:]
        return out
    }
}

/// Records the inputs of one block's projection groups as the decoder computes them, one
/// sequence at a time, in the decoder's order (the same filter as `BlockStatisticsObserver`):
/// the unchanged model's side of the dense targets.
final class BlockInputRecorder: ActivationObserver, @unchecked Sendable {
    /// One observed input: its group and its `rows × columns` values.
    struct Input {
        let group: BlockInputStatistics.Group
        let values: [Float]
    }

    private let layer: Int
    private(set) var inputs: [Input] = []

    init(layer: Int) { self.layer = layer }

    func observe(_ site: ActivationSite, input: UnsafePointer<Float>, rows t: Int, columns n: Int) {
        let group = BlockInputStatistics.Group(site.kind)
        guard site.layer == layer, site.fused || group.kinds.first == site.kind, t > 0, n > 0 else { return }
        inputs.append(Input(group: group, values: Array(UnsafeBufferPointer(start: input, count: t * n))))
    }
}
