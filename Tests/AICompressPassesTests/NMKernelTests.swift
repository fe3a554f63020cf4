import AICompressCore
@testable import AICompressPasses
import XCTest

/// The dedicated N:M writer: its kernels against each other and against a sort-based oracle,
/// and the pass's output against the general mask path it replaced.
final class NMKernelTests: XCTestCase {
    /// Values with many exact magnitude ties of both signs, ±0, and (with `nan`) NaNs of both
    /// signs and infinities.
    func hostileValues(_ count: Int, seed: UInt64, nan: Bool) -> [Float] {
        var v = gaussianValues(count, seed: seed)
        for k in stride(from: 0, to: count, by: 5) { v[k] = k % 2 == 0 ? 0.25 : -0.25 }
        for k in stride(from: 1, to: count, by: 11) { v[k] = 0 }
        for k in stride(from: 2, to: count, by: 13) { v[k] = -0.0 }
        if nan {
            for k in stride(from: 3, to: count, by: 17) { v[k] = k % 2 == 0 ? .nan : -.nan }
            for k in stride(from: 4, to: count, by: 29) { v[k] = -.infinity }
        }
        return v
    }

    /// The oracle: in each group, the members sorted by magnitude bit pattern (descending), then
    /// index; the first n are kept.
    func oracleMask(_ v: [Float], n: Int, m: Int) -> [Bool] {
        var keep = [Bool](repeating: false, count: v.count)
        for g in stride(from: 0, to: v.count, by: m) {
            let order = (g..<(g + m)).sorted {
                let a = v[$0].bitPattern & 0x7FFF_FFFF, b = v[$1].bitPattern & 0x7FFF_FFFF
                return a != b ? a > b : $0 < $1
            }
            for k in order.prefix(n) { keep[k] = true }
        }
        return keep
    }

    func run(_ v: [Float], n: Int, m: Int, kernel: PruneKernel) throws -> (Tensor, TensorReport) {
        let t = try Tensor(name: "w", shape: [v.count / m, m], floats: v)
        return try v.withUnsafeBufferPointer { try Prune.NMKernel.prune(t, $0, n: n, m: m, scheme: "test", kernel: kernel) }
    }

    /// Every kernel writes the oracle's mask and the kept values bit for bit (−0 and NaN
    /// payloads included), across chunk boundaries, for m with and without the SIMD lanes.
    func testKernelsEqualReferenceAndOracle() throws {
        // 2:4 and 1:3 cross the 65,536-element chunk boundary; every n for m <= 8.
        for (m, groups) in [(4, 16_500), (2, 3_001), (8, 1_001), (1, 500), (3, 22_000), (16, 301)] {
            for n in m <= 8 ? Array(0..<m) : [0, 1, 5, 15] {
                for nan in [false, true] {
                    let v = hostileValues(m * groups, seed: UInt64(31 * m + n), nan: nan)
                    XCTAssertTrue(Prune.NMKernel.applies(dtype: .f32, count: v.count, inner: 1, length: m, n: n, m: m))
                    let (plain, r1) = try run(v, n: n, m: m, kernel: .reference)
                    let keep = oracleMask(v, n: n, m: m)
                    let decoded = try plain.densified()
                    let bits = decoded.data.withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
                    for k in 0..<v.count {
                        guard bits[k] == (keep[k] ? v[k].bitPattern : 0) else {
                            return XCTFail("\(n):\(m) nan \(nan): element \(k) is \(bits[k]), oracle keeps \(keep[k]) of \(v[k])")
                        }
                    }
                    XCTAssertEqual(plain.encoding, .sparse(nonZeros: groups * n))
                    let keptZeros = (0..<v.count).filter { keep[$0] && v[$0] == 0 }.count
                    XCTAssertEqual(r1.zerosAfter, v.count - groups * n + keptZeros)
                    for kernel in [PruneKernel.simd, .avx2] {
                        let (fast, r2) = try run(v, n: n, m: m, kernel: kernel)
                        XCTAssertEqual(fast, plain, "\(n):\(m) nan \(nan) kernel \(kernel)")
                        XCTAssertEqual(r2.zerosAfter, r1.zerosAfter)
                        guard !nan else { continue }  // figures of NaN data are NaN
                        XCTAssertEqual(r2.maxAbsError, r1.maxAbsError, "\(n):\(m) \(kernel)")
                        XCTAssertEqual(r2.errorEnergy, r1.errorEnergy,
                                       accuracy: 1e-6 * max(1, r1.errorEnergy))
                        XCTAssertEqual(r2.signalEnergy, r1.signalEnergy,
                                       accuracy: 1e-6 * r1.signalEnergy)
                    }
                }
            }
        }
    }

    /// On finite weights the pass gives the general mask path's bytes and figures.
    func testPassEqualsGeneralMaskPath() throws {
        let v = hostileValues(96 * 256, seed: 77, nan: false)
        let t = try Tensor(name: "w", shape: [96, 256], floats: v)
        for (n, m) in [(2, 4), (1, 4), (4, 8), (1, 2), (3, 8)] {
            let (out, report) = try Prune(method: .nm(n: n, m: m)).apply(try Model(tensors: [t]))
            let (general, r) = try v.withUnsafeBufferPointer {
                try Prune.masked(t, $0, scheme: "general", decision: .mask(oracleMask(v, n: n, m: m)))
            }
            XCTAssertEqual(out.tensor(named: "w"), general, "\(n):\(m)")
            XCTAssertEqual(report.tensors[0].zerosAfter, r.zerosAfter)
            XCTAssertEqual(report.tensors[0].maxAbsError, r.maxAbsError)
            XCTAssertEqual(report.tensors[0].errorEnergy, r.errorEnergy, accuracy: 1e-6 * r.errorEnergy)
        }
    }

    /// Layouts the dedicated writer does not take (strided groups, a short last group, other
    /// dtypes, nothing pruned) stay on the general path.
    func testAppliesOnlyToContiguousGroups() {
        XCTAssertFalse(Prune.NMKernel.applies(dtype: .f32, count: 64, inner: 8, length: 8, n: 2, m: 4))
        XCTAssertFalse(Prune.NMKernel.applies(dtype: .f32, count: 60, inner: 1, length: 6, n: 2, m: 4))
        XCTAssertFalse(Prune.NMKernel.applies(dtype: .f16, count: 64, inner: 1, length: 8, n: 2, m: 4))
        XCTAssertFalse(Prune.NMKernel.applies(dtype: .f32, count: 64, inner: 1, length: 8, n: 4, m: 4))
    }
}
