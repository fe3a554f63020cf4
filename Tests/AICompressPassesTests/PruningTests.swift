import AICompressCore
@testable import AICompressPasses
import XCTest

final class PruningTests: XCTestCase {
    func tensor(_ name: String, _ shape: Shape, seed: UInt64) throws -> Tensor {
        try Tensor(name: name, shape: shape, floats: gaussianValues(shape.elementCount, seed: seed))
    }

    func nonZeros(_ t: Tensor) -> Int { t.doubleValues().filter { $0 != 0 }.count }

    func testExactCountsPerTensor() throws {
        let m = try Model(tensors: [try tensor("a", [37, 41], seed: 1), try tensor("b", [8, 8], seed: 2)])
        for keep in [0.0, 0.01, 0.3, 0.5, 0.999, 1.0] {
            let (out, _) = try Prune(method: .magnitude(keep: keep, scope: .tensor)).apply(m)
            for t in m.tensors {
                XCTAssertEqual(nonZeros(out.tensor(named: t.name)!), Prune.keepCount(keep, of: t.elementCount), "\(t.name) keep \(keep)")
            }
        }
    }

    /// The radix-select threshold equals a sort-based oracle; ties go to the earlier weight.
    func testGlobalThresholdEqualsSortOracle() throws {
        var a = gaussianValues(3000, seed: 3), b = gaussianValues(2000, seed: 4)
        // Many exact ties in magnitude, of both signs.
        for k in stride(from: 0, to: 3000, by: 5) { a[k] = k % 2 == 0 ? 0.125 : -0.125 }
        for k in stride(from: 0, to: 2000, by: 7) { b[k] = -0.125 }
        let m = try Model(tensors: [try Tensor(name: "a", shape: [60, 50], floats: a), try Tensor(name: "b", shape: [40, 50], floats: b)])
        for keep in [0.1, 0.3, 0.77] {
            let (out, _) = try Prune(method: .magnitude(keep: keep, scope: .global)).apply(m)
            // Oracle: sort (|w| desc, tensor order, index asc), keep the first k.
            let all = a.enumerated().map { (abs($0.element), 0, $0.offset) } + b.enumerated().map { (abs($0.element), 1, $0.offset) }
            let k = Prune.keepCount(keep, of: all.count)
            let kept = Set(all.sorted { $0.0 != $1.0 ? $0.0 > $1.0 : ($0.1, $0.2) < ($1.1, $1.2) }.prefix(k).map { "\($0.1):\($0.2)" })
            let outA = out.tensor(named: "a")!.doubleValues(), outB = out.tensor(named: "b")!.doubleValues()
            var ours = Set<String>()
            for (i, v) in outA.enumerated() where v != 0 { ours.insert("0:\(i)") }
            for (i, v) in outB.enumerated() where v != 0 { ours.insert("1:\(i)") }
            XCTAssertEqual(ours, kept, "keep \(keep)")
        }
    }

    /// NaN and ±Inf are found by the selection's first histogram and named with their tensor.
    func testNonFiniteWeightsAreRefusedInBothScopes() throws {
        for bad in [Float.nan, .infinity, -.infinity] {
            var b = gaussianValues(64, seed: 9)
            b[17] = bad
            let m = try Model(tensors: [try tensor("a", [8, 8], seed: 8), try Tensor(name: "b", shape: [8, 8], floats: b)])
            for scope in [Prune.Scope.tensor, .global] {
                XCTAssertThrowsError(try Prune(method: .magnitude(keep: 0.5, scope: scope)).apply(m)) {
                    XCTAssertEqual($0 as? PassError, .nonFinite(tensor: "b", count: 1, pass: "prune"), "\(bad) \(scope)")
                    // The message names the pass that refuses (it said "cannot quantize" for a prune).
                    XCTAssertEqual(($0 as? PassError)?.description, "tensor 'b': 1 NaN or infinite values; cannot prune")
                }
            }
        }
    }

    /// The per-chunk counts the selection's second pass makes (so the writer skips its own
    /// counting pass) equal a brute-force count, across runs and chunk boundaries, with ties.
    func testSelectionChunkCountsEqualBruteForce() {
        var a = gaussianValues(70_001, seed: 11), b = gaussianValues(1000, seed: 12), c = gaussianValues(140_000, seed: 13)
        for k in stride(from: 0, to: a.count, by: 9) { a[k] = -0.25 }
        for k in stride(from: 3, to: c.count, by: 11) { c[k] = 0.25 }
        b[5] = 0.25
        let runs = [a, b, c]
        for keep in [0.05, 0.3, 0.9] {
            let total = runs.reduce(0) { $0 + $1.count }
            let k = Prune.keepCount(keep, of: total)
            let buffers = runs.map { r in r.withUnsafeBufferPointer { UnsafeBufferPointer(start: UnsafeMutablePointer(mutating: $0.baseAddress!), count: $0.count) } }
            let (r, counts) = MagnitudeThreshold.selectCounting(buffers, keep: k, chunkSize: 1 << 16)
            XCTAssertEqual(r, MagnitudeThreshold.select(buffers, keep: k))
            let counted = try! XCTUnwrap(counts)
            for (i, run) in runs.enumerated() {
                let chunks = (run.count + 65535) / 65536
                XCTAssertEqual(counted.runs[i].count, chunks)
                for ch in 0..<chunks {
                    let slice = run[(ch * 65536)..<min(run.count, (ch + 1) * 65536)].map { $0.bitPattern & 0x7FFF_FFFF }
                    XCTAssertEqual(counted.runs[i][ch].sure, slice.filter { $0 > r.bits }.count, "keep \(keep) run \(i) chunk \(ch)")
                    XCTAssertEqual(counted.runs[i][ch].ties, slice.filter { $0 == r.bits }.count, "keep \(keep) run \(i) chunk \(ch)")
                }
            }
        }
    }

    func testNMGroupsAreValid() throws {
        var m = try Model(tensors: [try tensor("w", [16, 24], seed: 5), try tensor("torch", [12, 32], seed: 6)])
        m.graph = Graph(nodes: [Node(opType: "MatMul", inputs: ["x", "w"], outputs: ["y"])])
        let (out, _) = try Prune(method: .nm(n: 2, m: 4)).apply(m)
        // MatMul [K, N]: groups of 4 along K (down the columns).
        let w = out.tensor(named: "w")!.doubleValues()
        for col in 0..<24 {
            for g in 0..<4 {
                let group = (0..<4).map { w[(g * 4 + $0) * 24 + col] }
                XCTAssertEqual(group.filter { $0 != 0 }.count, 2)
            }
        }
        // Without a graph, [out, in]: groups of 4 along each row, the 2 largest kept.
        let original = m.tensor(named: "torch")!.doubleValues()
        let t = out.tensor(named: "torch")!.doubleValues()
        for g in stride(from: 0, to: t.count, by: 4) {
            let kept = (g..<(g + 4)).filter { t[$0] != 0 }
            XCTAssertEqual(kept.count, 2)
            let dropped = (g..<(g + 4)).filter { t[$0] == 0 }
            XCTAssertGreaterThanOrEqual(kept.map { abs(original[$0]) }.min()!, dropped.map { abs(original[$0]) }.max()!)
        }
    }

    func testIdempotentAndDeterministic() throws {
        let m = try Model(tensors: [try tensor("w", [50, 50], seed: 7)])
        let pass = Prune(method: .magnitude(keep: 0.4, scope: .tensor))
        let (once, _) = try pass.apply(m)
        let (twice, _) = try pass.apply(once)
        XCTAssertEqual(once.tensor(named: "w")!.doubleValues(), twice.tensor(named: "w")!.doubleValues())
        let (again, _) = try pass.apply(m)
        XCTAssertEqual(again.tensors, once.tensors, "same input, same bytes")
    }

    func testSparseStorageIsSmallAndExact() throws {
        let m = try Model(tensors: [try tensor("w", [128, 256], seed: 8)])
        let (out, report) = try Prune(method: .magnitude(keep: 0.3, scope: .tensor)).apply(m)
        let w = out.tensor(named: "w")!
        guard case .sparse(let nnz) = w.encoding else { return XCTFail("expected sparse storage") }
        XCTAssertEqual(nnz, Prune.keepCount(0.3, of: 128 * 256))
        XCTAssertEqual(w.storedBytes, 128 * 256 / 8 + nnz * 4)
        XCTAssertLessThan(Double(w.storedBytes), 0.34 * Double(128 * 256 * 4), "roughly a third")
        XCTAssertEqual(report.tensors[0].zerosAfter, 128 * 256 - nnz)
        // The decoded values are the kept originals and zeros.
        let before = m.tensor(named: "w")!.doubleValues(), after = w.doubleValues()
        for (x, y) in zip(before, after) { XCTAssertTrue(y == 0 || y == x) }
    }

    func testChannelRemovalShrinksTheNextLayer() throws {
        var m = try Model(tensors: [try tensor("fc1.weight", [8, 4], seed: 9), try tensor("fc1.bias", [8], seed: 10),
                                    try tensor("fc2.weight", [3, 8], seed: 11)])
        m.graph = Graph(outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)], nodes: [
            Node(opType: "Gemm", inputs: ["x", "fc1.weight", "fc1.bias"], outputs: ["h"], attributes: [Attribute(name: "transB", value: .int(1))]),
            Node(opType: "Relu", inputs: ["h"], outputs: ["a"]),
            Node(opType: "Gemm", inputs: ["a", "fc2.weight"], outputs: ["y"], attributes: [Attribute(name: "transB", value: .int(1))]),
        ])
        let selection = TensorSelection(include: ["fc1.weight", "fc2.weight"])
        let (out, _) = try Prune(method: .channels(keep: 0.5, norm: .l2), selection: selection).apply(m)
        XCTAssertEqual(out.tensor(named: "fc1.weight")!.shape, [4, 4])
        XCTAssertEqual(out.tensor(named: "fc1.bias")!.shape, [4])
        XCTAssertEqual(out.tensor(named: "fc2.weight")!.shape, [3, 4], "the output layer keeps its 3 channels")
        // The kept rows are the 4 with the largest L2 norms, in order.
        let w = m.tensor(named: "fc1.weight")!.doubleValues()
        let norms = (0..<8).map { r in (0..<4).reduce(0.0) { $0 + w[r * 4 + $1] * w[r * 4 + $1] } }
        let expected = Array((0..<8).sorted { norms[$0] > norms[$1] }.prefix(4)).sorted()
        let kept = out.tensor(named: "fc1.weight")!.doubleValues()
        for (i, r) in expected.enumerated() { XCTAssertEqual(Array(kept[(i * 4)..<(i * 4 + 4)]), Array(w[(r * 4)..<(r * 4 + 4)])) }
        let b = m.tensor(named: "fc1.bias")!.doubleValues()
        XCTAssertEqual(out.tensor(named: "fc1.bias")!.doubleValues(), expected.map { b[$0] })
        let w2 = m.tensor(named: "fc2.weight")!.doubleValues()
        XCTAssertEqual(out.tensor(named: "fc2.weight")!.doubleValues(), (0..<3).flatMap { o in expected.map { w2[o * 8 + $0] } })
    }

    func testMatMulWithARowBiasShrinksTheBiasToo() throws {
        // skl2onnx's MLPs: MatMul, then Add of a [1, N] intercepts constant.
        var m = try Model(tensors: [try tensor("w1", [4, 6], seed: 15), try tensor("b1", [1, 6], seed: 16), try tensor("w2", [6, 3], seed: 17)])
        m.graph = Graph(outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)], nodes: [
            Node(opType: "MatMul", inputs: ["x", "w1"], outputs: ["h"]),
            Node(opType: "Add", inputs: ["h", "b1"], outputs: ["hb"]),
            Node(opType: "Relu", inputs: ["hb"], outputs: ["a"]),
            Node(opType: "MatMul", inputs: ["a", "w2"], outputs: ["y"]),
        ])
        let (out, _) = try Prune(method: .channels(keep: 0.5, norm: .l2), selection: TensorSelection(include: ["w1"])).apply(m)
        XCTAssertEqual(out.tensor(named: "w1")!.shape, [4, 3])
        XCTAssertEqual(out.tensor(named: "b1")!.shape, [1, 3])
        XCTAssertEqual(out.tensor(named: "w2")!.shape, [3, 3])
        // The kept columns of w1 (its output channels) are the 3 of largest L2 norm, and b1 keeps the same entries.
        let w = m.tensor(named: "w1")!.doubleValues()
        let norms = (0..<6).map { c in (0..<4).reduce(0.0) { $0 + w[$1 * 6 + c] * w[$1 * 6 + c] } }
        let kept = Array((0..<6).sorted { norms[$0] > norms[$1] }.prefix(3)).sorted()
        let b = m.tensor(named: "b1")!.doubleValues()
        XCTAssertEqual(out.tensor(named: "b1")!.doubleValues(), kept.map { b[$0] })
        XCTAssertEqual(out.tensor(named: "w1")!.doubleValues(), (0..<4).flatMap { r in kept.map { w[r * 6 + $0] } })
    }

    func testResidualIsRefused() throws {
        var m = try Model(tensors: [try tensor("w1", [4, 4], seed: 12), try tensor("w2", [4, 4], seed: 13)])
        m.graph = Graph(outputs: [ValueInfo(name: "z", elemType: 1, shape: nil)], nodes: [
            Node(opType: "MatMul", inputs: ["x", "w1"], outputs: ["h"]),
            Node(opType: "Add", inputs: ["h", "x"], outputs: ["r"]),
            Node(opType: "MatMul", inputs: ["r", "w2"], outputs: ["z"]),
        ])
        XCTAssertThrowsError(try Prune(method: .channels(keep: 0.5, norm: .l1), selection: TensorSelection(include: ["w1"])).apply(m)) {
            guard case .unsupported(let t, let why) = $0 as? PassError else { return XCTFail("\($0)") }
            XCTAssertEqual(t, "w1")
            XCTAssertTrue(why.contains("residual"), why)
        }
    }

    func testBadParameters() throws {
        let m = try Model(tensors: [try tensor("w", [4, 4], seed: 14)])
        XCTAssertThrowsError(try Prune(method: .magnitude(keep: 1.5, scope: .tensor)).apply(m)) {
            guard case .invalidParameter = $0 as? PassError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try Prune(method: .nm(n: 3, m: 2)).apply(m))
        XCTAssertThrowsError(try Prune(method: .magnitude(keep: 0.5, scope: .tensor), selection: TensorSelection(include: ["nope"])).apply(m)) {
            guard case .nothingSelected = $0 as? PassError else { return XCTFail("\($0)") }
        }
    }
}

final class PruningKernelTests: XCTestCase {
    /// The SIMD threshold kernel and the plain loop produce the same bytes and figures.
    func testSIMDKernelEqualsPlainLoop() throws {
        var v = gaussianValues(100_003, seed: 21)
        for k in stride(from: 0, to: v.count, by: 9) { v[k] = k % 2 == 0 ? 0.25 : -0.25 }
        for k in stride(from: 1, to: v.count, by: 13) { v[k] = 0 }
        let m = try Model(tensors: [try Tensor(name: "w", shape: [100_003, 1], floats: v)])
        let selection = TensorSelection(includeOneDimensional: true)
        for keep in [0.0, 0.05, 0.3, 0.8, 0.97, 1.0] {
            var pass = Prune(method: .magnitude(keep: keep, scope: .tensor), selection: selection)
            pass.kernel = .reference
            let (plain, r1) = try pass.apply(m)
            // the Swift SIMD loop, then the AVX2 kernel (where the CPU has it)
            for kernel in [PruneKernel.simd, .avx2] {
                pass.kernel = kernel
                let (fast, r2) = try pass.apply(m)
                XCTAssertEqual(fast.tensors, plain.tensors, "keep \(keep) kernel \(kernel)")
                XCTAssertEqual(r2.tensors[0].zerosAfter, r1.tensors[0].zerosAfter)
                XCTAssertEqual(r2.tensors[0].maxAbsError, r1.tensors[0].maxAbsError)
                XCTAssertEqual(r2.tensors[0].errorEnergy, r1.tensors[0].errorEnergy, accuracy: 1e-6 * max(1, r1.tensors[0].errorEnergy))
                XCTAssertEqual(r2.tensors[0].signalEnergy, r1.tensors[0].signalEnergy, accuracy: 1e-6 * r1.tensors[0].signalEnergy)
            }
        }
    }
}
