@testable import AICompressPasses
import AICompressCore
import XCTest

/// GPTQ, SparseGPT and Wanda on small synthetic layers, each against a plain oracle.
final class CalibrationTests: XCTestCase {
    /// A layer: weights `rows × columns` and calibration inputs `samples × columns` whose columns
    /// have very different scales and are correlated (so calibration matters).
    struct Layer {
        let rows: Int, columns: Int, samples: Int
        var weights: [Float]
        var inputs: [Float]

        init(rows: Int, columns: Int, samples: Int, seed: UInt64) {
            self.rows = rows
            self.columns = columns
            self.samples = samples
            var g = SplitMix64(seed: seed)
            func normal() -> Float {
                Float((-2 * log(max(g.unit(), 1e-300))).squareRoot() * cos(2 * Double.pi * g.unit()))
            }
            weights = (0..<(rows * columns)).map { _ in normal() }
            let scales = (0..<columns).map { j in Float(0.1 + 3 * Double(j % 7) / 7) }
            var x = [Float](repeating: 0, count: samples * columns)
            for s in 0..<samples {
                let shared = normal()
                for j in 0..<columns { x[s * columns + j] = scales[j] * (normal() + 0.6 * shared) }
            }
            inputs = x
        }

        var statistics: LayerStatistics {
            var st = LayerStatistics(columns: columns, gram: true)
            st.add(inputs, rows: samples)
            return st
        }

        /// ‖(W − V)·Xᵀ‖²: how much the layer's outputs on the calibration inputs move.
        func outputError(_ v: [Float]) -> Double {
            var total = 0.0
            for s in 0..<samples {
                for r in 0..<rows {
                    var d = 0.0
                    for j in 0..<columns { d += Double(weights[r * columns + j] - v[r * columns + j]) * Double(inputs[s * columns + j]) }
                    total += d * d
                }
            }
            return total
        }
    }

    func testStatisticsAreTheNaiveSums() {
        let layer = Layer(rows: 1, columns: 9, samples: 31, seed: 1)
        var twoBatches = LayerStatistics(columns: 9, gram: true)
        twoBatches.add(Array(layer.inputs[0..<(12 * 9)]), rows: 12)
        twoBatches.add(Array(layer.inputs[(12 * 9)...]), rows: 19)
        let st = layer.statistics
        XCTAssertEqual(st.rows, 31)
        let g = st.symmetricGram
        for i in 0..<9 {
            for j in 0..<9 {
                var s = 0.0
                for r in 0..<31 { s += Double(layer.inputs[r * 9 + i]) * Double(layer.inputs[r * 9 + j]) }
                XCTAssertEqual(g[i * 9 + j], s, accuracy: 1e-9 * max(1, abs(s)))
            }
            XCTAssertEqual(st.sumOfSquares[i], g[i * 9 + i], accuracy: 1e-9 * g[i * 9 + i])
        }
        XCTAssertEqual(twoBatches.symmetricGram.count, g.count)
        for (a, b) in zip(twoBatches.symmetricGram, g) { XCTAssertEqual(a, b, accuracy: 1e-9 * max(1, abs(b))) }
    }

    func testFactorIsTheCholeskyOfTheInverse() throws {
        let layer = Layer(rows: 1, columns: 12, samples: 40, seed: 2)
        let st = layer.statistics
        let f = try HessianFactor(gram: st.symmetricGram, columns: 12, dampFraction: 0.01, layer: "l")
        let inverse = OBSReference.invert(HessianFactor.damped(gram: st.symmetricGram, columns: 12, dampFraction: 0.01).hessian, 12)
        for i in 0..<12 {
            for j in 0..<12 {
                var s = 0.0
                for k in 0..<12 { s += f.upper[k * 12 + i] * f.upper[k * 12 + j] }
                XCTAssertEqual(s, inverse[i * 12 + j], accuracy: 1e-9 * max(1, abs(inverse[i * 12 + j])))
                if i > j { XCTAssertEqual(f.upper[i * 12 + j], 0) }
            }
        }
    }

    /// A rule without rounding (every weight halved), so the blocked, lazily-updated sweep and
    /// the column-by-column textbook OBS must agree to float precision.
    struct Halve: OBSColumnRule {
        mutating func begin(column: Int, blockStart: Int, blockEnd: Int, weights: UnsafeBufferPointer<Float>,
                            rows: Int, columns: Int, diagonal: [Double]) {}
        func fix(row: Int, column: Int, value: Float) -> Float { value / 2 }
    }

    func testBlockedSweepEqualsTheTextbookStep() throws {
        let layer = Layer(rows: 5, columns: 37, samples: 120, seed: 3)
        let st = layer.statistics
        let f = try HessianFactor(gram: st.symmetricGram, columns: 37, dampFraction: 0.01, layer: "l")
        var fast = layer.weights, plain = layer.weights
        var r1 = Halve(), r2 = Halve()
        let l1 = OBSSweep(blockSize: 8).run(&fast, rows: 5, factor: f, rule: &r1)
        let h = HessianFactor.damped(gram: st.symmetricGram, columns: 37, dampFraction: 0.01)
        let l2 = OBSReference.run(&plain, rows: 5, hessian: h.hessian, columns: 37, deadColumns: h.dead, rule: &r2)
        for (a, b) in zip(fast, plain) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }
        XCTAssertEqual(l1, l2, accuracy: 1e-5 * l2)
    }

    func testGPTQLandsOnTheGridAndBeatsRoundToNearest() throws {
        for (groupSize, actOrder) in [(0, false), (16, false), (16, true), (0, true)] {
            let layer = Layer(rows: 8, columns: 64, samples: 256, seed: 4)
            let grid = IntegerGrid(qmin: -8, qmax: 7, symmetric: true, groupSize: groupSize, rows: 8, columns: 64)
            let r = try GPTQ(blockSize: 32, actOrder: actOrder).quantize(layer.weights, rows: 8, statistics: layer.statistics, grid: grid, layer: "l")
            // Round to nearest on the same grid, fitted to the original weights.
            var rtnGrid = grid
            var rtn = layer.weights
            let width = groupSize > 0 ? groupSize : 64
            for row in 0..<8 {
                for g in 0..<rtnGrid.groups {
                    rtnGrid.fit(row: row, group: g, values: layer.weights[(row * 64 + g * width)..<(row * 64 + min(64, (g + 1) * width))])
                }
                for j in 0..<64 { rtn[row * 64 + j] = rtnGrid.round(row: row, group: rtnGrid.group(of: j), value: layer.weights[row * 64 + j]) }
            }
            for row in 0..<8 {
                for j in 0..<64 {
                    let v = r.weights[row * 64 + j]
                    XCTAssertEqual(r.grid.round(row: row, group: r.grid.group(of: j), value: v), v, "(\(row), \(j)) off the grid")
                }
            }
            let gptq = layer.outputError(r.weights), plain = layer.outputError(rtn)
            XCTAssertLessThan(gptq, 0.9 * plain, "group \(groupSize) act-order \(actOrder): GPTQ \(gptq) vs RTN \(plain)")
        }
    }

    func testGPTQSweepEqualsTheTextbookStep() throws {
        let layer = Layer(rows: 6, columns: 24, samples: 100, seed: 5)
        let st = layer.statistics
        let grid = IntegerGrid(qmin: -128, qmax: 127, symmetric: true, groupSize: 8, rows: 6, columns: 24)
        let fast = try GPTQ(blockSize: 8).quantize(layer.weights, rows: 6, statistics: st, grid: grid, layer: "l")
        var plain = layer.weights
        var rule = GPTQRule(grid: grid, order: Array(0..<24), staticGroups: false, original: layer.weights, columns: 24)
        let h = HessianFactor.damped(gram: st.symmetricGram, columns: 24, dampFraction: 0.01)
        _ = OBSReference.run(&plain, rows: 6, hessian: h.hessian, columns: 24, deadColumns: h.dead, blockSize: 8, rule: &rule)
        let same = zip(fast.weights, plain).filter { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }.count
        XCTAssertGreaterThanOrEqual(same, 6 * 24 - 2, "GPTQ and the textbook OBS step disagree on \(6 * 24 - same) weights")
    }

    func testWandaMaskIsTheSmallestScoresPerRow() {
        let layer = Layer(rows: 7, columns: 30, samples: 50, seed: 6)
        let norms = layer.statistics.columnNorms
        for pattern in [SparsityPattern.unstructured(fraction: 0.5), .nOfM(keep: 2, group: 4), .unstructured(fraction: 0.3)] {
            let keep = Wanda.mask(layer.weights, rows: 7, norms: norms, pattern: pattern)
            for r in 0..<7 {
                let score = { (j: Int) in Double(abs(layer.weights[r * 30 + j])) * norms[j] }
                switch pattern {
                case .unstructured(let f):
                    let kept = (0..<30).filter { keep[r * 30 + $0] }, gone = (0..<30).filter { !keep[r * 30 + $0] }
                    XCTAssertEqual(gone.count, Int(f * 30))
                    XCTAssertLessThanOrEqual(gone.map(score).max() ?? 0, kept.map(score).min() ?? .infinity)
                case .nOfM(let k, let m):
                    for start in stride(from: 0, to: 28, by: m) {
                        let w = Array(start..<(start + m))
                        let kept = w.filter { keep[r * 30 + $0] }, gone = w.filter { !keep[r * 30 + $0] }
                        XCTAssertEqual(kept.count, k)
                        XCTAssertLessThanOrEqual(gone.map(score).max()!, kept.map(score).min()!)
                    }
                    // The trailing 2 columns keep half of them.
                    XCTAssertEqual((28..<30).filter { keep[r * 30 + $0] }.count, 1)
                }
            }
        }
    }

    func testSparseGPTHitsTheSparsityAndBeatsWandaAndMagnitude() throws {
        let layer = Layer(rows: 16, columns: 64, samples: 256, seed: 7)
        let st = layer.statistics
        for pattern in [SparsityPattern.unstructured(fraction: 0.5), .nOfM(keep: 2, group: 4)] {
            let r = try SparseGPT(blockSize: 32).prune(layer.weights, rows: 16, statistics: st, pattern: pattern, layer: "l")
            XCTAssertEqual(r.weights.filter { $0 == 0 }.count, 16 * 32)
            XCTAssertEqual(r.mask.filter { !$0 }.count, 16 * 32)
            let wanda = Wanda.prune(layer.weights, rows: 16, norms: st.columnNorms, pattern: pattern)
            let magnitude = Wanda.prune(layer.weights, rows: 16, norms: [Double](repeating: 1, count: 64), pattern: pattern)
            let e = layer.outputError(r.weights), ew = layer.outputError(wanda), em = layer.outputError(magnitude)
            XCTAssertLessThan(e, ew, "\(pattern): SparseGPT \(e), Wanda \(ew)")
            XCTAssertLessThan(ew, em, "\(pattern): Wanda \(ew), magnitude \(em)")
        }
    }

    func testSparseGPTWithAGridIsSparseAndOnTheGrid() throws {
        let layer = Layer(rows: 4, columns: 32, samples: 80, seed: 8)
        let grid = IntegerGrid(qmin: -128, qmax: 127, symmetric: true, groupSize: 0, rows: 4, columns: 32)
        let r = try SparseGPT(blockSize: 16).prune(layer.weights, rows: 4, statistics: layer.statistics,
                                                   pattern: .unstructured(fraction: 0.7), grid: grid, layer: "l")
        let g = try XCTUnwrap(r.grid)
        XCTAssertEqual(r.weights.filter { $0 == 0 }.count, 2 * Int(0.7 * 64))
        for row in 0..<4 { for j in 0..<32 { XCTAssertEqual(g.round(row: row, group: 0, value: r.weights[row * 32 + j]), r.weights[row * 32 + j]) } }
    }

    func testDeadInputsGetZeroWeightsAndNoNaN() throws {
        var layer = Layer(rows: 3, columns: 10, samples: 30, seed: 9)
        for s in 0..<30 { layer.inputs[s * 10 + 4] = 0 }
        let grid = IntegerGrid(qmin: -8, qmax: 7, symmetric: true, groupSize: 0, rows: 3, columns: 10)
        let r = try GPTQ().quantize(layer.weights, rows: 3, statistics: layer.statistics, grid: grid, layer: "l")
        for row in 0..<3 { XCTAssertEqual(r.weights[row * 10 + 4], 0) }
        XCTAssertTrue(r.weights.allSatisfy(\.isFinite))
    }

    func testNonFiniteStatisticsAreRefusedNamingTheLayer() {
        var st = LayerStatistics(columns: 2, gram: true)
        st.add([Float.nan, 1, 2, 3], rows: 2)
        let grid = IntegerGrid(qmin: -8, qmax: 7, symmetric: true, groupSize: 0, rows: 1, columns: 2)
        XCTAssertThrowsError(try GPTQ().quantize([1, 2], rows: 1, statistics: st, grid: grid, layer: "fc1.weight")) { e in
            XCTAssertTrue("\(e)".contains("fc1.weight"), "\(e)")
        }
        XCTAssertThrowsError(try GPTQ().quantize([1, 2], rows: 1, statistics: LayerStatistics(columns: 2, gram: false), grid: grid, layer: "fc1.weight"))
    }
}
