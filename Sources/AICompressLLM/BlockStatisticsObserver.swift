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

    /// The statistics gathered (every group the block ran).
    func statistics() -> [BlockInputStatistics.Group: BlockInputStatistics] {
        lock.lock()
        defer { lock.unlock() }
        var out: [BlockInputStatistics.Group: BlockInputStatistics] = [:]
        for (group, n) in columns {
            out[group] = BlockInputStatistics(group: group, columns: n, rows: rows[group] ?? 0,
                                              sumSquares: sums[group] ?? [], gram: grams[group],
                                              sumAbsolute: absolutes[group])
        }
        return out
    }
}
