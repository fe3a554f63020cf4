@testable import AICompressPasses
import AICompressCore
import XCTest

/// `--scope global` for the calibrated pruners: the allocation against a brute force over every
/// split, and the exact-count masks of Wanda and SparseGPT against their per-fraction versions
/// and the textbook OBS step.
final class SparsityAllocationTests: XCTestCase {
    typealias Curve = SparsityAllocation.Curve

    func testGridCountsAreEvenlySpacedWithoutRepeats() {
        XCTAssertEqual(SparsityAllocation.gridCounts(weights: 2048), (0...32).map { $0 * 64 })
        XCTAssertEqual(SparsityAllocation.gridCounts(weights: 10), Array(0...10))
        // 320 / 32 = 10 per step; 100 / 32 = 3.125: ⌊i·100/32 + ½⌋.
        XCTAssertEqual(SparsityAllocation.gridCounts(weights: 320), (0...32).map { $0 * 10 })
        XCTAssertEqual(Array(SparsityAllocation.gridCounts(weights: 100).prefix(6)), [0, 3, 6, 9, 13, 16])
        XCTAssertEqual(SparsityAllocation.gridCounts(weights: 100).last, 100)
        XCTAssertEqual(SparsityAllocation.gridCounts(weights: 0), [0])
    }

    func testHullDropsThePointsOnOrAboveTheChord() {
        let c = Curve(kept: [0, 1, 2, 3, 4], errors: [1, 0.9, 0.3, 0.2, 0])
        XCTAssertEqual(c.hull, Curve(kept: [0, 2, 4], errors: [1, 0.3, 0]))
        XCTAssertEqual(c.hullError(at: 1), 0.65, accuracy: 1e-15)
        XCTAssertEqual(c.hullError(at: 3), 0.15, accuracy: 1e-15)
        XCTAssertEqual(c.hullError(at: 4), 0)
        // A straight line keeps its ends only.
        XCTAssertEqual(Curve(kept: [0, 5, 10], errors: [1, 0.5, 0]).hull, Curve(kept: [0, 10], errors: [1, 0]))
    }

    /// The plain reference: every split of `total` over the layers, the least Σ hull error.
    func bruteForce(_ curves: [Curve], total: Int) -> Double {
        var best = Double.infinity
        let table = curves.map { c in (0...c.weights).map { c.hullError(at: $0) } }
        func walk(_ layer: Int, _ left: Int, _ sum: Double) {
            if layer == curves.count { if left == 0 { best = min(best, sum) }; return }
            for k in 0...min(left, curves[layer].weights) { walk(layer + 1, left - k, sum + table[layer][k]) }
        }
        walk(0, total, 0)
        return best
    }

    func testAllocationIsTheBruteForceMinimumAndSpendsTheBudgetExactly() {
        var g = SplitMix64(seed: 18)
        for trial in 0..<6 {
            // Three layers of 7 to 26 weights, decreasing noisy curves (not convex).
            let curves = (0..<3).map { _ -> Curve in
                let n = 7 + Int(g.unit() * 20)
                let kept = SparsityAllocation.gridCounts(weights: n, points: 5)
                var e = 1.0
                let errors = kept.map { k -> Double in
                    if k == 0 { return 1 }
                    if k == n { return 0 }
                    e *= 0.2 + 0.7 * g.unit()
                    return e
                }
                return Curve(kept: kept, errors: errors)
            }
            let all = curves.reduce(0) { $0 + $1.weights }
            for total in 0...all {
                let kept = SparsityAllocation.allocate(curves, total: total)
                XCTAssertEqual(kept.reduce(0, +), total, "trial \(trial) total \(total)")
                for (k, c) in zip(kept, curves) { XCTAssertTrue((0...c.weights).contains(k)) }
                let sum = zip(kept, curves).reduce(0.0) { $0 + $1.1.hullError(at: $1.0) }
                XCTAssertEqual(sum, bruteForce(curves, total: total), accuracy: 1e-12, "trial \(trial) total \(total): \(kept)")
            }
            XCTAssertEqual(SparsityAllocation.allocate(curves, total: all + 5), curves.map(\.weights))
            XCTAssertEqual(SparsityAllocation.allocate(curves, total: -1), [0, 0, 0])
        }
    }

    func testTiesGoToTheEarlierLayer() {
        let c = Curve(kept: [0, 4], errors: [1, 0])
        XCTAssertEqual(SparsityAllocation.allocate([c, c], total: 5), [4, 1])
        XCTAssertEqual(SparsityAllocation.allocate([c, c], total: 3), [3, 0])
        // A flat curve (a layer whose output is always 0) gets its weights last.
        let flat = Curve(kept: [0, 4], errors: [0, 0])
        XCTAssertEqual(SparsityAllocation.allocate([flat, c], total: 6), [2, 4])
    }

    func testWandaExactCountMatchesTheFractionMaskAndSharesRowsEvenly() {
        let layer = CalibrationTests.Layer(rows: 7, columns: 30, samples: 50, seed: 6)
        let norms = layer.statistics.columnNorms
        // 7 rows × ⌊0.5·30⌋: the per-row fraction mask, bit for bit.
        XCTAssertEqual(Wanda.mask(layer.weights, rows: 7, norms: norms, removing: 7 * 15),
                       Wanda.mask(layer.weights, rows: 7, norms: norms, pattern: .unstructured(fraction: 0.5)))
        for removing in [0, 1, 50, 103, 209, 210, 999] {
            let keep = Wanda.mask(layer.weights, rows: 7, norms: norms, removing: removing)
            let total = min(removing, 210)
            XCTAssertEqual(keep.filter { !$0 }.count, total, "removing \(removing)")
            for r in 0..<7 {
                let gone = (0..<30).filter { !keep[r * 30 + $0] }, kept = (0..<30).filter { keep[r * 30 + $0] }
                XCTAssertEqual(gone.count, total * (r + 1) / 7 - total * r / 7)
                let score = { (j: Int) in Double(abs(layer.weights[r * 30 + j])) * norms[j] }
                XCTAssertLessThanOrEqual(gone.map(score).max() ?? 0, kept.map(score).min() ?? .infinity)
            }
        }
    }

    func testSparseGPTExactCountMatchesTheFractionAndTheTextbookStep() throws {
        let layer = CalibrationTests.Layer(rows: 6, columns: 40, samples: 120, seed: 11)
        let st = layer.statistics
        let factor = try HessianFactor(gram: st.symmetricGram, columns: 40, dampFraction: 0.01, layer: "l")
        // One block: ⌊0.7·240⌋ = 168 removed, the same bits as the fraction.
        let byFraction = SparseGPT(blockSize: 128).prune(layer.weights, rows: 6, factor: factor, pattern: .unstructured(fraction: 0.7))
        let byCount = SparseGPT(blockSize: 128).prune(layer.weights, rows: 6, factor: factor, removing: 168)
        XCTAssertEqual(byCount.weights.map(\.bitPattern), byFraction.weights.map(\.bitPattern))
        XCTAssertEqual(byCount.mask, byFraction.mask)
        // Blocks of 16 (16, 16, 8 columns): 101 removed = 40 + 40 + 21 (⌊101·e/40⌋ − ⌊101·s/40⌋).
        let h = HessianFactor.damped(gram: st.symmetricGram, columns: 40, dampFraction: 0.01)
        let r = SparseGPT(blockSize: 16).prune(layer.weights, rows: 6, factor: factor, removing: 101)
        XCTAssertEqual(r.mask.filter { !$0 }.count, 101)
        let perBlock = [0..<16, 16..<32, 32..<40].map { cols in (0..<6).reduce(0) { n, row in n + cols.filter { !r.mask[row * 40 + $0] }.count } }
        XCTAssertEqual(perBlock, [40, 40, 21])
        XCTAssertEqual(r.weights.filter { $0 == 0 }.count, 101)
        var plain = layer.weights
        var rule = SparseGPTRule(pattern: .unstructured(fraction: 0), grid: nil, rows: 6, columns: 40)
        rule.removing = 101
        let loss = OBSReference.run(&plain, rows: 6, hessian: h.hessian, columns: 40, deadColumns: h.dead, blockSize: 16, rule: &rule)
        XCTAssertEqual(rule.keep, r.mask)
        for (a, b) in zip(r.weights, plain) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }
        XCTAssertEqual(r.loss, loss, accuracy: 1e-4 * loss)
        // The sweep's loss is ½‖(W−Ŵ)‖²_H: what the global curve reads as the output error.
        var quadratic = 0.0
        for row in 0..<6 {
            let d = (0..<40).map { Double(layer.weights[row * 40 + $0]) - Double(r.weights[row * 40 + $0]) }
            for i in 0..<40 { for j in 0..<40 { quadratic += d[i] * h.hessian[i * 40 + j] * d[j] } }
        }
        XCTAssertEqual(2 * r.loss, quadratic, accuracy: 1e-4 * quadratic)
    }

    // MARK: --allocation output

    func testMoveKeepsTheTotalAndTheBoundsAndSharesByLargestRemainder() {
        let sizes = [100, 50, 30]
        // +10 to layer 0: the others give in proportion to what they keep (20 : 10 → 6.67 : 3.33 → 7 : 3).
        XCTAssertEqual(SparsityAllocation.move([40, 20, 10], sizes: sizes, layer: 0, by: 10), [50, 13, 7])
        // −10 from layer 0: the others take in proportion to their room (30 : 20 → 6 : 4).
        XCTAssertEqual(SparsityAllocation.move([40, 20, 10], sizes: sizes, layer: 0, by: -10), [30, 26, 14])
        // Equal remainders go to the earlier layer: 3 over room 5 : 5 → 1.5 : 1.5 → 2 : 1.
        XCTAssertEqual(SparsityAllocation.move([10, 5, 5], sizes: sizes, layer: 0, by: 3), [13, 3, 4])
        // Clamped to the layer's bounds; nil when nothing can move.
        XCTAssertEqual(SparsityAllocation.move([95, 3, 2], sizes: sizes, layer: 0, by: 20), [100, 0, 0])
        XCTAssertNil(SparsityAllocation.move([100, 0, 0], sizes: sizes, layer: 0, by: 5))
        XCTAssertNil(SparsityAllocation.move([0, 20, 10], sizes: sizes, layer: 0, by: -1))
        XCTAssertNil(SparsityAllocation.move([7], sizes: [9], layer: 0, by: 1), "one layer has nobody to trade with")
        XCTAssertNil(SparsityAllocation.move([10, 50, 30], sizes: sizes, layer: 0, by: -1), "the others are full")
        var g = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let sizes = (0..<4).map { _ in 1 + Int(g.unit() * 40) }
            let kept = sizes.map { Int(g.unit() * Double($0 + 1)) }
            let layer = Int(g.unit() * 4) % 4, delta = Int(g.unit() * 41) - 20
            guard let m = SparsityAllocation.move(kept, sizes: sizes, layer: layer, by: delta) else { continue }
            XCTAssertEqual(m.reduce(0, +), kept.reduce(0, +))
            XCTAssertTrue(zip(m, sizes).allSatisfy { $0 >= 0 && $0 <= $1 }, "\(kept) \(sizes) \(layer) \(delta) → \(m)")
            XCTAssertEqual(m[layer] - kept[layer] > 0, delta > 0)
            for l in m.indices where l != layer { XCTAssertTrue(delta > 0 ? m[l] <= kept[l] : m[l] >= kept[l], "the others move the other way") }
        }
    }

    /// On a smooth separable error with a known best split the search lands within its last step
    /// of it, measures each split once, stops at the limit, and is deterministic.
    func testSearchFindsTheBestSplitOfASmoothErrorWithinItsLastStep() throws {
        let sizes = [400, 300, 200], weight = [1.0, 4.0, 9.0]
        // Σ w_l / (k_l + 1): the best split has k_l + 1 ∝ √w_l, i.e. 1 : 2 : 3 of (K + 3).
        func error(_ k: [Int]) -> Double { zip(weight, k).reduce(0) { $0 + $1.0 / Double($1.1 + 1) } }
        var calls: [[Int]] = []
        let found = try SparsityAllocation.search(from: [250, 40, 10], sizes: sizes, limit: 100) { k in
            calls.append(k)
            return error(k)
        }
        XCTAssertEqual(found.kept.reduce(0, +), 300)
        XCTAssertEqual(Set(calls).count, calls.count, "every split measured once")
        XCTAssertEqual(found.evaluations, calls.count)
        XCTAssertEqual(found.startError, error([250, 40, 10]))
        XCTAssertEqual(found.error, error(found.kept))
        XCTAssertEqual(found.error, calls.map(error).min())
        let best = [303.0 / 6 - 1, 303.0 / 3 - 1, 303.0 / 2 - 1]
        for (k, b) in zip(found.kept, best) { XCTAssertEqual(Double(k), b, accuracy: 300.0 / 64 * 2, "\(found.kept)") }
        XCTAssertLessThan(found.error, 1.0001 * error([50, 100, 150]))
        let again = try SparsityAllocation.search(from: [250, 40, 10], sizes: sizes, limit: 100) { error($0) }
        XCTAssertEqual(again, found)
        // The limit counts every split measured, the start included.
        var limited = 0
        let cut = try SparsityAllocation.search(from: [250, 40, 10], sizes: sizes, limit: 5) { k in limited += 1; return error(k) }
        XCTAssertEqual(limited, 5)
        XCTAssertEqual(cut.evaluations, 5)
        XCTAssertEqual(SparsityAllocation.searchLimit(layers: 2), 16)
    }
}
