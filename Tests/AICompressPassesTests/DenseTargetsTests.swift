@testable import AICompressPasses
import AICompressCore
import XCTest

/// SparseGPT's dense targets and bias refit (`DenseTargets`, `InputShift`,
/// `LayerStatistics.centered`) against plain Double oracles: the normal equations of the
/// damped least-squares fit, the mean residual, and the sums they are built from.
final class DenseTargetsTests: XCTestCase {
    typealias Layer = CalibrationTests.Layer

    /// A compressed-model input: the dense one with noise and a shifted mean (as a pruned layer
    /// before it would give), and a positive offset on every column (ReLU-like, so centring matters).
    func perturbed(_ layer: Layer, seed: UInt64) -> (dense: [Float], compressed: [Float]) {
        var g = SplitMix64(seed: seed)
        let dense = layer.inputs.enumerated().map { $0.element + 0.5 + 0.1 * Float($0.offset % layer.columns) }
        let compressed = dense.map { $0 + Float(0.3 * (g.unit() - 0.3)) }
        return (dense, compressed)
    }

    func statistics(_ dense: [Float], _ compressed: [Float], columns n: Int, rows: Int) -> LayerStatistics {
        var s = LayerStatistics(columns: n, gram: true)
        var shift = InputShift(columns: n)
        for start in stride(from: 0, to: rows, by: 37) {  // several batches
            let count = min(37, rows - start), range = (start * n)..<((start + count) * n)
            s.add(Array(compressed[range]), rows: count)
            shift.add(dense: Array(dense[range]), compressed: Array(compressed[range]), rows: count)
        }
        s.reference = shift
        return s
    }

    /// Solves a·x = b (n × n, Double) by Gaussian elimination with partial pivoting.
    func solve(_ a: [Double], _ b: [Double], _ n: Int) -> [Double] {
        var m = a, x = b
        for p in 0..<n {
            let pivot = (p..<n).max { abs(m[$0 * n + p]) < abs(m[$1 * n + p]) }!
            if pivot != p {
                for j in 0..<n { m.swapAt(p * n + j, pivot * n + j) }
                x.swapAt(p, pivot)
            }
            for i in (p + 1)..<n {
                let f = m[i * n + p] / m[p * n + p]
                for j in p..<n { m[i * n + j] -= f * m[p * n + j] }
                x[i] -= f * x[p]
            }
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            var v = x[i]
            for j in (i + 1)..<n { v -= m[i * n + j] * x[j] }
            x[i] = v / m[i * n + i]
        }
        return x
    }

    func testShiftAndCentringAreTheNaiveSums() {
        let layer = Layer(rows: 3, columns: 6, samples: 90, seed: 11)
        let (d, x) = perturbed(layer, seed: 12)
        let n = 6, rows = 90
        let s = statistics(d, x, columns: n, rows: rows), c = s.centered
        let mean = (0..<n).map { j in (0..<rows).reduce(0.0) { $0 + Double(x[$1 * n + j]) } / Double(rows) }
        for i in 0..<n {
            XCTAssertEqual(s.sums[i], mean[i] * Double(rows), accuracy: 1e-9 * Double(rows))
            for j in 0..<n {
                var cross = 0.0, centred = 0.0, centredCross = 0.0
                for r in 0..<rows {
                    let di = Double(d[r * n + i]) - Double(x[r * n + i])
                    cross += di * Double(x[r * n + j])
                    centred += (Double(x[r * n + i]) - mean[i]) * (Double(x[r * n + j]) - mean[j])
                    centredCross += di * (Double(x[r * n + j]) - mean[j])
                }
                XCTAssertEqual(s.reference!.cross[i * n + j], cross, accuracy: 1e-4 * max(1, abs(cross)))
                XCTAssertEqual(c.symmetricGram[i * n + j], centred, accuracy: 1e-8 * max(1, abs(centred)))
                XCTAssertEqual(c.reference!.cross[i * n + j], centredCross, accuracy: 1e-4 * max(1, abs(centredCross)))
            }
        }
    }

    func testSameInputsLeaveTheWeightsAsTheyAre() throws {
        let layer = Layer(rows: 4, columns: 8, samples: 64, seed: 3)
        let s = statistics(layer.inputs, layer.inputs, columns: 8, rows: 64)
        XCTAssertTrue(s.reference!.cross.allSatisfy { $0 == 0 })
        let t = try DenseTargets.target(layer.weights, rows: 4, statistics: s, dampFraction: 0.01, layer: "w")
        XCTAssertEqual(t, layer.weights)
        let t2 = try DenseTargets.target(layer.weights, rows: 4, statistics: s.centered, dampFraction: 0.01, layer: "w")
        XCTAssertEqual(t2, layer.weights)
    }

    /// W* solves (XᵀX + λI)·w*ᵀ = (X_denseᵀX + λI)·wᵀ per row: the damped fit of the dense
    /// outputs, pulled towards W.
    func testTargetSolvesTheDampedNormalEquations() throws {
        let n = 7, rows = 5, samples = 120
        let layer = Layer(rows: rows, columns: n, samples: samples, seed: 21)
        let (d, x) = perturbed(layer, seed: 22)
        for centred in [false, true] {
            let plain = statistics(d, x, columns: n, rows: samples)
            let s = centred ? plain.centered : plain
            let target = try DenseTargets.target(layer.weights, rows: rows, statistics: s, dampFraction: 0.01, layer: "w")
            // The oracle from the raw inputs.
            let mx = (0..<n).map { j in centred ? (0..<samples).reduce(0.0) { $0 + Double(x[$1 * n + j]) } / Double(samples) : 0 }
            let md = (0..<n).map { j in centred ? (0..<samples).reduce(0.0) { $0 + Double(d[$1 * n + j]) } / Double(samples) : 0 }
            var h = [Double](repeating: 0, count: n * n), cross = h
            for r in 0..<samples {
                for i in 0..<n {
                    for j in 0..<n {
                        h[i * n + j] += (Double(x[r * n + i]) - mx[i]) * (Double(x[r * n + j]) - mx[j])
                        cross[i * n + j] += (Double(x[r * n + i]) - mx[i]) * (Double(d[r * n + j]) - md[j])
                    }
                }
            }
            let lambda = 0.01 * (0..<n).reduce(0.0) { $0 + h[$1 * n + $1] } / Double(n)
            for i in 0..<n { h[i * n + i] += lambda; cross[i * n + i] += lambda }
            for r in 0..<rows {
                let w = (0..<n).map { Double(layer.weights[r * n + $0]) }
                let rhs = (0..<n).map { i in (0..<n).reduce(0.0) { $0 + cross[i * n + $1] * w[$1] } }
                let expected = solve(h, rhs, n)
                for j in 0..<n {
                    XCTAssertEqual(Double(target[r * n + j]), expected[j], accuracy: 2e-3 * max(1, abs(expected[j])), "centred \(centred) row \(r) col \(j)")
                }
            }
        }
    }

    /// `DenseTargetGain` (the language models' form: G = (ΔᵀX)·H⁻¹ from the sweep's factor, one
    /// per input) gives the damped normal equations' solution as `DenseTargets.target` does, and
    /// the same from a factor of the permuted Hessian with its order (act-order).
    func testGainFromTheFactorSolvesTheSameEquations() throws {
        let n = 8, rows = 6, samples = 150
        let layer = Layer(rows: rows, columns: n, samples: samples, seed: 31)
        let (d, x) = perturbed(layer, seed: 32)
        let s = statistics(d, x, columns: n, rows: samples)
        let gram = s.symmetricGram, cross = try XCTUnwrap(s.reference).cross
        let expected = try DenseTargets.target(layer.weights, rows: rows, statistics: s, dampFraction: 0.01, layer: "w")
        let factor = try HessianFactor(gram: gram, columns: n, dampFraction: 0.01, layer: "w")
        let got = try DenseTargetGain(cross: cross, factor: factor).target(layer.weights, rows: rows, layer: "w")
        let order = [3, 0, 7, 1, 6, 2, 5, 4]
        let permuted = try HessianFactor(gram: GPTQ.permuted(gram, n, order), columns: n, dampFraction: 0.01, layer: "w")
        let fromPermuted = try DenseTargetGain(cross: cross, factor: permuted, order: order).target(layer.weights, rows: rows, layer: "w")
        var moved = 0.0
        for k in 0..<(rows * n) {
            XCTAssertEqual(got[k], expected[k], accuracy: 1e-3 * max(1, abs(expected[k])), "\(k)")
            XCTAssertEqual(fromPermuted[k], expected[k], accuracy: 1e-3 * max(1, abs(expected[k])), "permuted \(k)")
            moved = max(moved, Double(abs(expected[k] - layer.weights[k])))
        }
        XCTAssertGreaterThan(moved, 1e-2, "the shift moves the weights")
        // No shift: W* = W.
        let none = DenseTargetGain(cross: [Double](repeating: 0, count: n * n), factor: factor)
        XCTAssertEqual(try none.target(layer.weights, rows: rows, layer: "w"), layer.weights)
    }

    /// The refitted bias takes the mean error: Σ over the rows of W·x_dense + b − Ŵ·x − b̂ is 0.
    func testRefittedBiasCancelsTheMeanError() {
        let n = 6, rows = 4, samples = 80
        let layer = Layer(rows: rows, columns: n, samples: samples, seed: 31)
        let (d, x) = perturbed(layer, seed: 32)
        let s = statistics(d, x, columns: n, rows: samples)
        let pruned = layer.weights.enumerated().map { $0.offset % 3 == 0 ? 0 : $0.element * 1.1 }
        let bias: [Float] = [0.5, -0.25, 0, 1]
        let refit = DenseTargets.bias(bias, original: layer.weights, pruned: pruned, statistics: s)
        for o in 0..<rows {
            var error = 0.0
            for r in 0..<samples {
                var dense = Double(bias[o]), compressed = Double(refit[o])
                for j in 0..<n {
                    dense += Double(layer.weights[o * n + j]) * Double(d[r * n + j])
                    compressed += Double(pruned[o * n + j]) * Double(x[r * n + j])
                }
                error += dense - compressed
            }
            XCTAssertEqual(error / Double(samples), 0, accuracy: 1e-5, "output \(o)")
        }
    }

    /// A constant input column is dead once centred (its weight's part moves into the bias).
    func testConstantColumnIsDeadWhenCentred() {
        var s = LayerStatistics(columns: 3, gram: true)
        s.add([1, 2, 3, 1, -1, 5, 1, 4, 0], rows: 3)
        let c = s.centered
        XCTAssertEqual(c.sumOfSquares[0], 0)
        XCTAssertEqual((0..<3).map { c.symmetricGram[$0] }, [0, 0, 0])
        XCTAssertGreaterThan(c.sumOfSquares[1], 0)
        XCTAssertEqual(c.sums, s.sums)
    }
}
