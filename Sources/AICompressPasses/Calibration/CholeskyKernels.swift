import CKernels

/// The fast twin of `Cholesky` (CKernels' hessian_factor.c): the same three O(n³) steps,
/// blocked and vectorised, with each element's float operations in the plain loops' order,
/// so the results are bit-identical to `Cholesky`'s (CholeskyKernelTests checks it).
/// Single-threaded: the bits do not depend on the thread count.
enum CholeskyKernels {
    /// L with L·Lᵀ = a (lower triangular), or nil when a pivot is not positive: `Cholesky.lower`.
    static func lower(_ a: [Double], _ n: Int) -> [Double]? {
        precondition(a.count == n * n, "CholeskyKernels.lower: not n × n")
        guard n > 0 else { return [] }
        var l = [Double](repeating: 0, count: n * n)
        var scratch = [Double](repeating: 0, count: 8 * n)
        let ok = a.withUnsafeBufferPointer { ap in
            l.withUnsafeMutableBufferPointer { lp in
                scratch.withUnsafeMutableBufferPointer { aic_cholesky_lower(ap.baseAddress!, lp.baseAddress!, Int64(n), $0.baseAddress!) }
            }
        }
        return ok == 1 ? l : nil
    }

    /// The inverse of lower-triangular `l`: `Cholesky.invertLowerInPlace`.
    static func invertLowerInPlace(_ l: inout [Double], _ n: Int) {
        precondition(l.count == n * n, "CholeskyKernels.invertLowerInPlace: not n × n")
        guard n > 0 else { return }
        var inv = [Double](repeating: 0, count: n * n)
        var scratch = [Double](repeating: 0, count: 8 * n)
        l.withUnsafeBufferPointer { lp in
            inv.withUnsafeMutableBufferPointer { ip in
                scratch.withUnsafeMutableBufferPointer { aic_invert_lower(lp.baseAddress!, ip.baseAddress!, Int64(n), $0.baseAddress!) }
            }
        }
        l = inv
    }

    /// Mᵀ·M for lower-triangular M: `Cholesky.lowerTransposeTimesLower`.
    static func lowerTransposeTimesLower(_ m: [Double], _ n: Int) -> [Double] {
        precondition(m.count == n * n, "CholeskyKernels.lowerTransposeTimesLower: not n × n")
        guard n > 0 else { return [] }
        var r = [Double](repeating: 0, count: n * n)
        var scratch = [Double](repeating: 0, count: 16 * n + 32)
        m.withUnsafeBufferPointer { mp in
            r.withUnsafeMutableBufferPointer { rp in
                scratch.withUnsafeMutableBufferPointer { aic_lower_transpose_times_lower(mp.baseAddress!, rp.baseAddress!, Int64(n), $0.baseAddress!) }
            }
        }
        return r
    }
}
