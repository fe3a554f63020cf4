@testable import AICompressPasses
import AICompressCore
import XCTest

/// The blocked, vectorised Hessian-factor kernels (`CholeskyKernels`, CKernels' hessian_factor.c)
/// against their plain twin `Cholesky`, bit for bit, on sizes around the kernels' 8-column
/// panels and 4-row tiles.
final class CholeskyKernelTests: XCTestCase {
    /// XᵀX + damping of `samples` random rows with correlated columns of very different
    /// scales (as calibration Grams are), plus some exactly-zero entries.
    static func gram(_ n: Int, samples: Int, seed: UInt64) -> [Double] {
        var g = SplitMix64(seed: seed)
        var x = [Double](repeating: 0, count: samples * n)
        for r in 0..<samples {
            var previous = 0.0
            for c in 0..<n {
                let v = (g.unit() * 2 - 1) * Double(1 + c % 5) + 0.5 * previous
                x[r * n + c] = c % 11 == 3 ? 0 : v
                previous = v
            }
        }
        var h = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0
                for r in 0..<samples { s += x[r * n + i] * x[r * n + j] }
                h[i * n + j] = s
            }
        }
        return HessianFactor.damped(gram: h, columns: n, dampFraction: 0.01).hessian
    }

    static let sizes = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 33, 64, 71, 130]

    func bits(_ a: [Double]) -> [UInt64] { a.map(\.bitPattern) }

    func testCholeskyIsBitIdenticalToThePlainLoops() {
        for n in Self.sizes {
            let h = Self.gram(n, samples: n + 7, seed: UInt64(n))
            guard let plain = Cholesky.lower(h, n) else { return XCTFail("plain Cholesky failed, n = \(n)") }
            guard let fast = CholeskyKernels.lower(h, n) else { return XCTFail("fast Cholesky failed, n = \(n)") }
            XCTAssertEqual(bits(fast), bits(plain), "n = \(n)")
            // And the factor is a factor: L·Lᵀ = H to rounding.
            var worst = 0.0
            for i in 0..<n {
                for j in 0...i {
                    var s = 0.0
                    for k in 0...j { s += fast[i * n + k] * fast[j * n + k] }
                    worst = max(worst, abs(s - h[i * n + j]) / max(1, abs(h[i * n + j])))
                }
            }
            XCTAssertLessThan(worst, 1e-12, "n = \(n)")
        }
    }

    func testInverseAndProductAreBitIdenticalToThePlainLoops() throws {
        for n in Self.sizes {
            let h = Self.gram(n, samples: 3 * n, seed: 100 + UInt64(n))
            let l = try XCTUnwrap(Cholesky.lower(h, n))
            var plain = l, fast = l
            Cholesky.invertLowerInPlace(&plain, n)
            CholeskyKernels.invertLowerInPlace(&fast, n)
            XCTAssertEqual(bits(fast), bits(plain), "inverse, n = \(n)")
            for i in 0..<n { for j in 0..<n where j > i { XCTAssertEqual(fast[i * n + j].bitPattern, 0) } }
            // L⁻¹·L = I to rounding.
            var worst = 0.0
            for i in 0..<n {
                for j in 0..<n {
                    var s = 0.0
                    for k in 0..<n { s += fast[i * n + k] * l[k * n + j] }
                    worst = max(worst, abs(s - (i == j ? 1 : 0)))
                }
            }
            XCTAssertLessThan(worst, 1e-9, "n = \(n)")
            XCTAssertEqual(bits(CholeskyKernels.lowerTransposeTimesLower(plain, n)),
                           bits(Cholesky.lowerTransposeTimesLower(plain, n)), "product, n = \(n)")
        }
    }

    func testNotPositiveDefiniteIsRefusedByBoth() {
        for n in [3, 9, 20] {
            var h = Self.gram(n, samples: 2 * n, seed: 7)
            let bad = n - 2
            h[bad * n + bad] = -1  // a negative pivot at column n − 2, in the second panel for n = 20
            XCTAssertNil(Cholesky.lower(h, n))
            XCTAssertNil(CholeskyKernels.lower(h, n), "n = \(n)")
            h[bad * n + bad] = .nan
            XCTAssertNil(CholeskyKernels.lower(h, n), "NaN, n = \(n)")
        }
    }

    /// The whole factor (what the sweeps use) on a Gram with dead columns equals the one the
    /// plain loops give.
    func testHessianFactorMatchesThePlainPipeline() throws {
        let n = 45
        var gram = Self.gram(n, samples: 60, seed: 9)
        for j in 0..<n { gram[5 * n + j] = 0; gram[j * n + 5] = 0 }
        let f = try HessianFactor(gram: gram, columns: n, dampFraction: 0.01, layer: "l")
        let h = HessianFactor.damped(gram: gram, columns: n, dampFraction: 0.01).hessian
        var l = try XCTUnwrap(Cholesky.lower(h, n))
        Cholesky.invertLowerInPlace(&l, n)
        let li = try XCTUnwrap(Cholesky.lower(Cholesky.lowerTransposeTimesLower(l, n), n))
        var u = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0...i { u[j * n + i] = li[i * n + j] } }
        XCTAssertEqual(bits(f.upper), bits(u))
        XCTAssertEqual(f.deadColumns, [5])
    }
}
