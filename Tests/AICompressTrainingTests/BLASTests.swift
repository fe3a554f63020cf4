import AICompressCore
@testable import AICompressTraining
import CKernels
import XCTest

/// BLAS.gemm (CKernels' blocked sgemm with its AVX2+FMA microkernel, split over the cores)
/// against `aic_sgemm_reference`, the plain triple loop of the same formula: bit for bit, on
/// edge shapes of every blocking level, all four transposes and the alpha/beta cases. And the
/// formula itself against a Double sum within the bound of k rounded terms.
final class BLASTests: XCTestCase {
    private struct Rng {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
        mutating func array(_ count: Int) -> [Float] { (0..<count).map { _ in next() } }
    }

    private func reference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, _ a: [Float], _ b: [Float],
                           beta: Float, _ c: [Float]) -> [Float] {
        var out = c
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { pc in
                    aic_sgemm_reference(transA ? 1 : 0, transB ? 1 : 0, Int64(m), Int64(n), Int64(k), alpha,
                                        pa.baseAddress!, Int64(transA ? m : k), pb.baseAddress!, Int64(transB ? k : n),
                                        beta, pc.baseAddress!, Int64(n))
                }
            }
        }
        return out
    }

    private func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

    func testBitIdenticalToThePlainLoopOnEdgeShapes() {
        var rng = Rng(state: 7)
        // Edges of the 6 x 16 tile, the 96-row / 384-deep / 1024-wide blocks, and products large
        // enough to be split by columns (n >= m) and by rows (m > n).
        let shapes = [(1, 1, 1), (5, 17, 3), (6, 16, 384), (7, 33, 385), (13, 15, 800), (7, 1025, 390), (97, 50, 390),
                      (12, 32, 1), (200, 40, 7), (64, 300, 129), (300, 64, 129), (37, 2100, 40), (1000, 23, 100)]
        var checked = 0
        for (m, n, k) in shapes {
            for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
                for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (0.7, -1.3)] {
                    let a = rng.array(m * k), b = rng.array(k * n), c = rng.array(m * n)
                    var got = c
                    BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, b, beta: beta, into: &got)
                    let want = reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, b, beta: beta, c)
                    XCTAssertEqual(bits(got), bits(want), "m \(m) n \(n) k \(k) transA \(transA) transB \(transB) alpha \(alpha) beta \(beta)")
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 156)
    }

    /// The portable microkernel (CPUs without AVX2+FMA, other architectures) gives the same bits.
    func testPortableKernelGivesTheSameBits() {
        var rng = Rng(state: 3)
        for (m, n, k) in [(7, 33, 385), (97, 40, 390), (6, 16, 8)] {
            for (transA, transB) in [(false, true), (true, false)] {
                let a = rng.array(m * k), b = rng.array(k * n), c = rng.array(m * n)
                var got = c
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        got.withUnsafeMutableBufferPointer { pc in
                            aic_sgemm_portable(transA ? 1 : 0, transB ? 1 : 0, Int64(m), Int64(n), Int64(k), 0.5,
                                               pa.baseAddress!, Int64(transA ? m : k), pb.baseAddress!, Int64(transB ? k : n),
                                               -2, pc.baseAddress!, Int64(n))
                        }
                    }
                }
                let want = reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a, b, beta: -2, c)
                XCTAssertEqual(bits(got), bits(want), "m \(m) n \(n) k \(k) transA \(transA)")
            }
        }
    }

    func testSplitProductsAreLargeEnoughToBeSplit() {
        // The two largest shapes above cross the threshold, so the split paths are the ones compared.
        XCTAssertGreaterThanOrEqual(37 * 2100 * 40, BLAS.parallelThreshold)
        XCTAssertGreaterThanOrEqual(1000 * 23 * 100, BLAS.parallelThreshold)
    }

    func testBetaZeroDoesNotReadCAndKZeroScales() {
        var c = [Float](repeating: .nan, count: 6)
        BLAS.gemm(transA: false, transB: false, m: 2, n: 3, k: 2, [1, 2, 3, 4], [1, 0, 0, 0, 1, 0], beta: 0, into: &c)
        XCTAssertEqual(c, [1, 2, 0, 3, 4, 0])
        var d: [Float] = [1, -2, 3, 4]
        BLAS.gemm(transA: false, transB: false, m: 2, n: 2, k: 0, [], [], beta: 0.5, into: &d)
        XCTAssertEqual(d, [0.5, -1, 1.5, 2])
        BLAS.gemm(transA: false, transB: false, m: 2, n: 2, k: 0, [], [], beta: 0, into: &d)
        XCTAssertEqual(d, [0, 0, 0, 0])
    }

    /// Each element is within k·2⁻²³·Σ|aᵢbᵢ| (plus the scaled C's rounding) of the exact sum.
    func testAgainstADoubleSum() {
        var rng = Rng(state: 11)
        let (m, n, k) = (45, 70, 1500)
        let a = rng.array(m * k), b = rng.array(k * n), c0 = rng.array(m * n)
        var c = c0
        BLAS.gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 0.5, a, b, beta: 2, into: &c)
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var exact = 2 * Double(c0[i * n + j]), magnitude = abs(exact)
                for p in 0..<k {
                    let term = 0.5 * Double(a[i * k + p]) * Double(b[j * k + p])
                    exact += term
                    magnitude += abs(term)
                }
                let bound = Double(k + 2) * 0x1p-23 * magnitude
                worst = max(worst, abs(Double(c[i * n + j]) - exact) / bound)
            }
        }
        XCTAssertLessThan(worst, 1, "error over the bound")
        XCTAssertGreaterThan(worst, 0, "no rounding at all is not a float32 product")
    }
}
