import AICompressCore
import CKernels

/// Row-major single-precision matrix products: CKernels' `aic_sgemm` (Sources/CKernels/sgemm.c),
/// whose every element of C is the scaled C plus its k terms as fused multiply-adds in ascending
/// order. The result is thus the same bits on every CPU and for every split of the work, so
/// outputs do not depend on the machine's core count (BLASTests checks both against
/// `aic_sgemm_reference`, the plain triple loop).
public enum BLAS {
    /// Products smaller than this many multiply-adds run on the calling thread.
    static let parallelThreshold = 1 << 21

    /// C[m×n] = alpha · op(A) · op(B) + beta · C, where op(A) is m×k and op(B) is k×n.
    /// A is stored k×m when `transA`, B is stored n×k when `transB`. C is not read when beta is 0.
    /// Large products are split over `Parallel.defaultWorkers` by columns (in multiples of 16)
    /// or by rows (multiples of 6), whichever is longer: each piece computes its elements
    /// exactly as the whole product would.
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                            _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, beta: Float = 0,
                            _ c: UnsafeMutablePointer<Float>) {
        guard m > 0, n > 0 else { return }
        let lda = transA ? m : k, ldb = transB ? k : n
        let (ta, tb): (Int32, Int32) = (transA ? 1 : 0, transB ? 1 : 0)
        let workers = Parallel.defaultWorkers
        let work = m.multipliedReportingOverflow(by: n).partialValue.multipliedReportingOverflow(by: max(k, 1))
        guard workers > 1, k > 0, work.overflow || work.partialValue >= parallelThreshold else {
            aic_sgemm(ta, tb, Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda), b, Int64(ldb), beta, c, Int64(n))
            return
        }
        nonisolated(unsafe) let (pa, pb, pc) = (a, b, c)
        if n >= m {
            let panels = (n + 15) / 16, parts = min(workers, panels)
            Parallel.forEach(parts) { part in
                let j0 = panels * part / parts * 16, j1 = min(n, panels * (part + 1) / parts * 16)
                guard j1 > j0 else { return }
                aic_sgemm(ta, tb, Int64(m), Int64(j1 - j0), Int64(k), alpha, pa, Int64(lda),
                          pb + (transB ? j0 * ldb : j0), Int64(ldb), beta, pc + j0, Int64(n))
            }
        } else {
            let panels = (m + 5) / 6, parts = min(workers, panels)
            Parallel.forEach(parts) { part in
                let i0 = panels * part / parts * 6, i1 = min(m, panels * (part + 1) / parts * 6)
                guard i1 > i0 else { return }
                aic_sgemm(ta, tb, Int64(i1 - i0), Int64(n), Int64(k), alpha, pa + (transA ? i0 : i0 * lda), Int64(lda),
                          pb, Int64(ldb), beta, pc + i0 * n, Int64(n))
            }
        }
    }

    /// Matrix product of arrays: C = op(A) · op(B) (+ beta · C).
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                            _ a: [Float], _ b: [Float], beta: Float = 0, into c: inout [Float]) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {  // no terms (and maybe empty operands): the beta step alone
            for i in 0..<(m * n) { c[i] = beta == 0 ? 0 : beta == 1 ? c[i] : beta * c[i] }
            return
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                         pa.baseAddress!, pb.baseAddress!, beta: beta, pc.baseAddress!)
                }
            }
        }
    }
}
