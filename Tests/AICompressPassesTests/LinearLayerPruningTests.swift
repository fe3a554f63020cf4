@testable import AICompressPasses
import AICompressCore
import XCTest

/// `LinearLayerPruning` (the per-projection step of LLM pruning) against oracles written here:
/// Wanda's mask by rank, SparseGPT's update by the textbook OBS step in Double, and the order
/// of the three methods' output errors on a layer with an outlier input column.
final class LinearLayerPruningTests: XCTestCase {
    /// A layer whose input column 5 is 25× the others (LLMs' "massive activations"), so the
    /// weight that matters most is not the largest.
    struct OutlierLayer {
        let rows: Int, columns: Int, samples = 400
        var weights: [Float] = [], inputs: [Float] = []

        init(seed: UInt64, rows: Int = 24, columns: Int = 96) {
            self.rows = rows
            self.columns = columns
            var g = SplitMix64(seed: seed)
            func normal() -> Float { Float((-2 * log(max(g.unit(), 1e-300))).squareRoot() * cos(2 * Double.pi * g.unit())) }
            weights = (0..<(rows * columns)).map { _ in normal() }
            // Correlated columns (a shared component per sample), as a layer's inputs are: that is
            // where SparseGPT's update of the kept weights pays.
            for _ in 0..<samples {
                let shared = normal()
                for j in 0..<columns { inputs.append((normal() + 0.8 * shared) * (j == 5 ? 25 : 1) * Float(1 + j % 3) / 2) }
            }
        }

        var sumSquares: [Double] {
            (0..<columns).map { j in (0..<samples).reduce(0.0) { $0 + Double(inputs[$1 * columns + j]) * Double(inputs[$1 * columns + j]) } }
        }

        var gram: [Double] {
            var g = [Double](repeating: 0, count: columns * columns)
            for s in 0..<samples {
                for i in 0..<columns { for j in 0..<columns { g[i * columns + j] += Double(inputs[s * columns + i]) * Double(inputs[s * columns + j]) } }
            }
            return g
        }

        /// ‖(W − V)·Xᵀ‖: how far the layer's outputs on the calibration inputs move.
        func outputError(_ v: [Float]) -> Double {
            var total = 0.0
            for s in 0..<samples {
                for r in 0..<rows {
                    var d = 0.0
                    for j in 0..<columns { d += Double(weights[r * columns + j] - v[r * columns + j]) * Double(inputs[s * columns + j]) }
                    total += d * d
                }
            }
            return total.squareRoot()
        }
    }

    /// The oracle: weight j of a row (or of an N:M group) goes when fewer than `drop` others of
    /// its comparison group rank below it, ranking by score and then by index.
    func rankOracle(_ w: [Float], rows: Int, columns n: Int, norms: [Double], pattern: SparsityPattern) -> [Bool] {
        var keep = [Bool](repeating: true, count: w.count)
        for r in 0..<rows {
            let groups: [Range<Int>]
            let drop: (Int) -> Int
            switch pattern {
            case .unstructured(let f):
                groups = [0..<n]
                drop = { _ in Int((f * Double(n)).rounded(.down)) }
            case .nOfM(let k, let m):
                groups = stride(from: 0, to: n, by: m).map { $0..<min(n, $0 + m) }
                drop = { width in width == m ? m - k : (m - k) * width / m }
            }
            for g in groups {
                for j in g {
                    let s = Double(abs(w[r * n + j])) * norms[j]
                    let below = g.filter { i in
                        let t = Double(abs(w[r * n + i])) * norms[i]
                        return t < s || (t == s && i < j)
                    }.count
                    if below < drop(g.count) { keep[r * n + j] = false }
                }
            }
        }
        return keep
    }

    func testWandaMaskIsTheRankOracleWithTiesToTheLowerIndex() throws {
        var layer = OutlierLayer(seed: 21)
        // Equal scores in row 0: ties must go to the lower index on every run.
        for j in 0..<12 { layer.weights[j] = 0.5 }
        let sums = layer.sumSquares
        for pattern in [SparsityPattern.unstructured(fraction: 0.5), .unstructured(fraction: 0.7), .nOfM(keep: 2, group: 4)] {
            let p = LinearLayerPruning(method: .wanda, pattern: pattern)
            let r = try p.prune(layer.weights, rows: 24, columns: 96, sumSquares: sums, factor: nil, layer: "blk.0.ffn_up.weight")
            let oracle = rankOracle(layer.weights, rows: 24, columns: 96, norms: sums.map { $0.squareRoot() }, pattern: pattern)
            XCTAssertEqual(r.keep, oracle, "\(pattern)")
            XCTAssertEqual(r.values, zip(layer.weights, oracle).map { $1 ? $0 : 0 })
            XCTAssertEqual(r.keep.filter { !$0 }.count, 24 * Int((pattern.fraction * 96).rounded(.down)))
            let again = try p.prune(layer.weights, rows: 24, columns: 96, sumSquares: sums, factor: nil, layer: "l")
            XCTAssertEqual(again, r, "two runs differ")
        }
    }

    func testSparseGPTWithAFactorIsTheTextbookOBSStep() throws {
        let layer = OutlierLayer(seed: 22, rows: 12, columns: 40)
        let g = layer.gram
        let factor = try HessianFactor(gram: g, columns: 40, dampFraction: 0.01, layer: "l")
        for pattern in [SparsityPattern.unstructured(fraction: 0.5), .nOfM(keep: 2, group: 4)] {
            let fast = try LinearLayerPruning(method: .sparsegpt, pattern: pattern)
                .prune(layer.weights, rows: 12, columns: 40, sumSquares: nil, factor: factor, layer: "l")
            var plain = layer.weights
            var rule = SparseGPTRule(pattern: pattern, grid: nil, rows: 12, columns: 40)
            let h = HessianFactor.damped(gram: g, columns: 40, dampFraction: 0.01)
            _ = OBSReference.run(&plain, rows: 12, hessian: h.hessian, columns: 40, deadColumns: h.dead, blockSize: 128, rule: &rule)
            XCTAssertEqual(fast.keep, rule.keep, "\(pattern): the masks differ")
            var worst = 0.0
            for (a, b) in zip(fast.values, plain) { worst = max(worst, Double(abs(a - b)) / max(1, Double(abs(b)))) }
            XCTAssertLessThan(worst, 1e-4, "\(pattern): blocked sweep and textbook step differ by \(worst)")
            XCTAssertEqual(fast.values.filter { $0 == 0 }.count, 12 * 20)
        }
    }

    func testSparseGPTBeatsWandaBeatsMagnitudeOnAnOutlierColumn() throws {
        let layer = OutlierLayer(seed: 23)
        let factor = try HessianFactor(gram: layer.gram, columns: 96, dampFraction: 0.01, layer: "l")
        for (pattern, wandaBound, sparseBound) in [(SparsityPattern.unstructured(fraction: 0.5), 0.3, 0.9), (.nOfM(keep: 2, group: 4), 0.3, 0.9)] {
            func error(_ m: LinearLayerPruning.Method) throws -> Double {
                let r = try LinearLayerPruning(method: m, pattern: pattern)
                    .prune(layer.weights, rows: 24, columns: 96, sumSquares: layer.sumSquares, factor: factor, layer: "l")
                return layer.outputError(r.values)
            }
            let magnitude = try error(.magnitude), wanda = try error(.wanda), sparse = try error(.sparsegpt)
            print("outlier layer \(pattern): output error magnitude \(magnitude), Wanda \(wanda) (\(wanda / magnitude)x), SparseGPT \(sparse) (\(sparse / wanda)x Wanda)")
            XCTAssertLessThan(wanda / magnitude, wandaBound, "\(pattern): Wanda \(wanda), magnitude \(magnitude)")
            XCTAssertLessThan(sparse / wanda, sparseBound, "\(pattern): SparseGPT \(sparse), Wanda \(wanda)")
        }
    }

    func testMissingStatisticsAreRefusedNamingTheLayer() {
        let w = [Float](repeating: 1, count: 8)
        for (method, expected) in [(LinearLayerPruning.Method.wanda, "Σx²"), (.sparsegpt, "XᵀX")] {
            XCTAssertThrowsError(try LinearLayerPruning(method: method, pattern: .unstructured(fraction: 0.5))
                .prune(w, rows: 2, columns: 4, sumSquares: nil, factor: nil, layer: "blk.3.attn_v.weight")) { error in
                XCTAssertTrue("\(error)".contains("blk.3.attn_v.weight") && "\(error)".contains(expected), "\(error)")
            }
        }
        XCTAssertThrowsError(try LinearLayerPruning(method: .wanda, pattern: .unstructured(fraction: 0.5))
            .prune(w, rows: 2, columns: 4, sumSquares: [1, .nan, 1, 1], factor: nil, layer: "blk.0.attn_q.weight")) { error in
            XCTAssertTrue("\(error)".contains("not finite"), "\(error)")
        }
    }
}
