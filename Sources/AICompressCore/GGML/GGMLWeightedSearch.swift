/// The importance-weighted scale searches of ggml-quants.c as llama-quantize runs them with an
/// importance matrix (`quant_weights` non-null): `make_qx_quants` (rmse_type 1 with weights),
/// `make_qkx3_quants` and `make_qp_quants`. Plain scalar code, every float operation the C
/// code's in its order (no fused multiply-add, no reassociation; llama.cpp is built without
/// -march=native), so the bytes equal llama-quantize's.
enum GGMLWeightedSearch {
    /// `make_qx_quants(n, nmax, x, L, 1, qw)`: symmetric levels `L[i] = l + nmax` for the
    /// scale of least weighted squared error over 19 trial inverse scales; returns the scale.
    static func makeQX(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                       _ qw: UnsafePointer<Float>) -> Float {
        // The levels are l + nmax, in 0..<2·nmax: the same bits as Int8 or UInt8.
        L.withMemoryRebound(to: UInt8.self, capacity: n) {
            GGMLKQuantizer.makeQX(n, nmax, x, UnsafeMutableBufferPointer(start: $0, count: n), rmseType: 1, weights: qw)
        }
    }

    /// `make_qkx3_quants(n, nmax, x, weights, L, &the_min, Laux, rmin, rdelta, nstep, false)`:
    /// scale and min of one group by a weighted least-squares grid search (squared error).
    /// Returns the scale and `the_min` (the negated min).
    static func makeQKX3(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                         _ L: UnsafeMutablePointer<UInt8>, _ aux: UnsafeMutablePointer<UInt8>,
                         rmin: Float, rdelta: Float, nstep: Int) -> (scale: Float, theMin: Float) {
        // make_qkx3_quants with use_mad false is make_qkx2_quants with use_mad false operation for
        // operation: its `max <= min` test and make_qkx2's `max == min` agree, since min ≤ max
        // unless a value is NaN, and then both are false.
        GGMLKQuantizer.makeQKX2(n, nmax, x, UnsafeMutableBufferPointer(start: UnsafeMutablePointer(mutating: weights), count: n),
                                UnsafeMutableBufferPointer(start: L, count: n), UnsafeMutableBufferPointer(start: aux, count: n),
                                rmin: rmin, rdelta: rdelta, nstep: nstep, useMAD: false)
    }

    /// `make_qp_quants(n, nmax, x, L, quant_weights)`: non-negative levels (the sub-block
    /// scales or mins of a K-quant against the super-block scale) by a weighted search and five
    /// rounds of coordinate descent; returns the scale.
    static func makeQP(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>,
                       _ qw: UnsafePointer<Float>) -> Float {
        var maxValue: Float = 0
        for i in 0..<n { maxValue = GGMLScalar.cMax(maxValue, x[i]) }
        if maxValue < GGMLKQuantizer.groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        var iscale = Float(nmax) / maxValue
        for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: GGMLScalar.nearestInt(iscale * x[i])) }
        let scale = 1 / iscale
        var bestMSE: Float = 0
        for i in 0..<n {
            let diff = x[i] - scale * Float(L[i])
            bestMSE += qw[i] * diff * diff
        }
        for step in -4...4 where step != 0 {
            let iscaleStep = (0.1 * Float(step) + Float(nmax)) / maxValue
            let scaleStep = 1 / iscaleStep
            var mse: Float = 0
            for i in 0..<n {
                let l = GGMLScalar.cMin(nmax, GGMLScalar.nearestInt(iscaleStep * x[i]))
                let diff = x[i] - scaleStep * Float(l)
                mse += qw[i] * diff * diff
            }
            if mse < bestMSE {
                bestMSE = mse
                iscale = iscaleStep
            }
        }
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = GGMLScalar.cMin(nmax, GGMLScalar.nearestInt(iscale * x[i]))
            L[i] = UInt8(truncatingIfNeeded: l)
            // C sums the int l, not the uint8_t it stored (they differ for a negative l).
            let w = qw[i], fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let w = qw[i], li = Float(L[i])
                var slx = sumlx - w * x[i] * li
                var sl2 = suml2 - w * li * li
                if slx > 0 && sl2 > 0 {
                    let newL = GGMLScalar.cMin(nmax, GGMLScalar.nearestInt(x[i] * sl2 / slx))
                    if newL != Int32(L[i]) {
                        let fl = Float(newL)
                        slx += w * x[i] * fl
                        sl2 += w * fl * fl
                        if slx * slx * suml2 > sumlx * sumlx * sl2 {
                            L[i] = UInt8(truncatingIfNeeded: newL)
                            sumlx = slx
                            suml2 = sl2
                            changed += 1
                        }
                    }
                }
            }
            if changed == 0 { break }
        }
        return suml2 > 0 ? sumlx / suml2 : 0
    }
}
