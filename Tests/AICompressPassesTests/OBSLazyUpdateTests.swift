import AICompressCore
import XCTest

@testable import AICompressPasses

/// The OBS sweep's lazy update (CKernels' aic_obs_lazy_update through `OBSSweep.lazyUpdate`)
/// against its plain twin, bit for bit, and a row's result against the same row updated alone:
/// the property that makes GPTQ in row chunks give the whole matrix's bytes on every CPU.
final class OBSLazyUpdateTests: XCTestCase {
    struct Case {
        let rows: Int, n: Int, start: Int, end: Int
        var weights: [Float] = [], errors: [Float] = [], upper: [Double] = []
        init(rows: Int, n: Int, start: Int, end: Int, seed: UInt64) {
            (self.rows, self.n, self.start, self.end) = (rows, n, start, end)
            var g = SplitMix64(seed: seed)
            weights = (0..<(rows * n)).map { _ in Float(g.unit() - 0.5) }
            // Every seventh error is zero (a column a rule kept), some of them negative zero.
            errors = (0..<(rows * (end - start))).map { k in k % 7 == 0 ? (k % 2 == 0 ? 0 : -0.0) : Float(g.unit() - 0.5) * 0.1 }
            upper = (0..<(n * n)).map { _ in g.unit() - 0.5 }
        }
    }

    func testKernelEqualsThePlainLoopsBitForBit() {
        for (rows, n, start, end) in [(1, 40, 0, 8), (3, 100, 32, 64), (4, 97, 1, 33), (17, 300, 128, 256), (37, 129, 0, 128),
                                      (64, 288, 0, 32), (5, 64, 0, 63)] {
            let c = Case(rows: rows, n: n, start: start, end: end, seed: UInt64(rows * 1000 + n))
            var fast = c.weights, slow = c.weights
            OBSSweep.lazyUpdate(&fast, rows: rows, columns: n, start: start, end: end, errors: c.errors, upper: c.upper)
            OBSSweep.lazyUpdateReference(&slow, rows: rows, columns: n, start: start, end: end, errors: c.errors, upper: c.upper)
            XCTAssertEqual(fast.map(\.bitPattern), slow.map(\.bitPattern), "rows \(rows) n \(n) block \(start)..<\(end)")
            // Columns before `end` are untouched; the update moved the rest.
            XCTAssertEqual((0..<rows).flatMap { r in fast[(r * n)..<(r * n + end)] }, (0..<rows).flatMap { r in c.weights[(r * n)..<(r * n + end)] })
            XCTAssertNotEqual(fast, c.weights)
        }
    }

    func testEveryRowGetsTheBitsItGetsAlone() {
        let c = Case(rows: 53, n: 416, start: 128, end: 256, seed: 9)
        var all = c.weights
        OBSSweep.lazyUpdate(&all, rows: c.rows, columns: c.n, start: c.start, end: c.end, errors: c.errors, upper: c.upper)
        let width = c.end - c.start
        for r in 0..<c.rows {
            var one = Array(c.weights[(r * c.n)..<((r + 1) * c.n)])
            OBSSweep.lazyUpdate(&one, rows: 1, columns: c.n, start: c.start, end: c.end,
                                errors: Array(c.errors[(r * width)..<((r + 1) * width)]), upper: c.upper)
            XCTAssertEqual(one.map(\.bitPattern), all[(r * c.n)..<((r + 1) * c.n)].map(\.bitPattern), "row \(r)")
        }
    }
}
