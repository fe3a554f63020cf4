import AICompressCore
import Foundation
import XCTest

@testable import AICompressLLM

/// `AWQScaleSearch` on a synthetic layer: its losses (from XᵀX) against a plain reference that
/// multiplies the explicit activations X, its win over round to nearest where a few input
/// channels carry outliers, and the same result twice.
final class AWQScaleSearchTests: XCTestCase {
    struct Layer {
        let w: [Float], x: [Float], rows: Int, columns: Int, tokens: Int
        /// XᵀX, mean |x| and mean x² per column, in Double.
        var gram: [Double] {
            var g = [Double](repeating: 0, count: columns * columns)
            for t in 0..<tokens {
                for i in 0..<columns {
                    let a = Double(x[t * columns + i])
                    for j in 0..<columns { g[i * columns + j] += a * Double(x[t * columns + j]) }
                }
            }
            return g
        }
        var meanAbsolute: [Double] { (0..<columns).map { j in (0..<tokens).reduce(0) { $0 + Double(abs(x[$1 * columns + j])) } / Double(tokens) } }
        var meanSquares: [Float] {
            (0..<columns).map { j in Float((0..<tokens).reduce(0) { $0 + Double(x[$1 * columns + j]) * Double(x[$1 * columns + j]) } / Double(tokens)) }
        }
    }

    /// Gaussian weights; activations N(0, 1) with `outliers` channels scaled by `boost`.
    func layer(rows: Int = 48, columns: Int = 128, tokens: Int = 256, outliers: Int = 4, boost: Float = 25, seed: UInt64) -> Layer {
        var g = GaussianSource(seed: seed)
        var x = g.values(tokens * columns, 1)
        for k in 0..<outliers {
            let j = (k * 37 + 5) % columns
            for t in 0..<tokens { x[t * columns + j] *= boost }
        }
        return Layer(w: g.values(rows * columns, 0.05), x: x, rows: rows, columns: columns, tokens: tokens)
    }

    /// The reference: llm-awq's scales written out here, Q(W·diag s)·diag(1/s) with the type's
    /// quantizer, and the output error Σ_t Σ_r ((W − E) x_t)_r² from X itself, in Double.
    func referenceLoss(_ l: Layer, _ type: GGMLType, alpha: Double, importance: Bool) throws -> Double {
        let m = l.meanAbsolute, n = l.columns
        var s = m.map { Swift.max(pow($0, alpha), 1e-4) }
        let norm = (s.max()! * s.min()!).squareRoot()
        s = s.map { alpha == 0 ? 1 : $0 / norm }
        let sf = s.map { Float($0) }
        var scaled = l.w
        for r in 0..<l.rows { for j in 0..<n { scaled[r * n + j] = l.w[r * n + j] * sf[j] } }
        let ms = l.meanSquares
        let bytes = importance ? try type.quantize(scaled, rowLength: n, importance: (0..<n).map { ms[$0] / (sf[$0] * sf[$0]) })
                               : try type.quantize(scaled)
        let q = try type.dequantize(bytes)
        var total = 0.0
        for t in 0..<l.tokens {
            for r in 0..<l.rows {
                var y = 0.0
                for j in 0..<n { y += (Double(l.w[r * n + j]) - Double(q[r * n + j] / sf[j])) * Double(l.x[t * n + j]) }
                total += y * y
            }
        }
        return total
    }

    func search(_ l: Layer, _ type: GGMLType, importance: Bool) throws -> AWQScaleSearch.Result {
        try AWQScaleSearch(useImportance: importance).search(
            [.init(name: "w", weights: l.w, rows: l.rows, type: type)], columns: l.columns,
            gram: l.gram, meanAbsolute: l.meanAbsolute, meanSquares: l.meanSquares)
    }

    func testLossesMatchExplicitActivations() throws {
        for (type, importance, seed) in [(GGMLType.q4_0, false, UInt64(1)), (.q4_0, true, 2), (.q4_K, true, 3)] {
            let l = layer(rows: 16, columns: 256, tokens: 128, seed: seed)
            let r = try search(l, type, importance: importance)
            XCTAssertEqual(r.losses.count, 20)
            var reference = [Double]()
            for (k, alpha) in AWQScaleSearch().alphas.enumerated() {
                XCTAssertEqual(alpha, Double(k) / 20)
                let want = try referenceLoss(l, type, alpha: alpha, importance: importance)
                reference.append(want)
                XCTAssertEqual(r.losses[k], want, accuracy: 1e-4 * want, "\(type) α=\(alpha)")
            }
            XCTAssertEqual(r.best, reference.indices.min { reference[$0] < reference[$1] }, "\(type): the α the reference picks")
            XCTAssertEqual(r.alpha, Double(r.best) / 20)
        }
    }

    /// Four outlier channels (25x): AWQ's output error at most 0.3x round to nearest's (α = 0,
    /// the same quantizer) for Q4_0, 0.65x with importance weighting (which already protects
    /// the outlier columns); measured 0.19x and 0.49x.
    func testOutlierChannelsBeatRoundToNearest() throws {
        for (importance, bound) in [(false, 0.3), (true, 0.65)] {
            let l = layer(seed: 7)
            let r = try search(l, .q4_0, importance: importance)
            let rtn = try referenceLoss(l, .q4_0, alpha: 0, importance: importance)
            let awq = try referenceLoss(l, .q4_0, alpha: r.alpha, importance: importance)
            XCTAssertGreaterThan(r.alpha, 0)
            XCTAssertLessThan(awq / rtn, bound, "importance \(importance): AWQ \(awq), round to nearest \(rtn)")
        }
    }

    /// Without outliers the search may still pick α = 0; it is never worse than α = 0.
    func testNeverWorseThanRoundToNearestAndDeterministic() throws {
        let l = layer(outliers: 0, seed: 9)
        let a = try search(l, .q4_1, importance: true), b = try search(l, .q4_1, importance: true)
        XCTAssertLessThanOrEqual(a.losses[a.best], a.losses[0])
        XCTAssertEqual(a.losses, b.losses)
        XCTAssertEqual(a.scales, b.scales)
        XCTAssertEqual(a.encoded.map(\.bytes), b.encoded.map(\.bytes))
    }

    func testRefusesRowsThatAreNotWholeBlocks() {
        let l = layer(rows: 4, columns: 48, tokens: 8, outliers: 0, seed: 11)
        XCTAssertThrowsError(try search(l, .q4_K, importance: false)) { e in
            XCTAssertTrue("\(e)".contains("w"), "\(e)")
        }
    }
}
