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
        var maxValue: Float = 0, amax: Float = 0
        for i in 0..<n {
            let ax = abs(x[i])
            if ax > amax {
                amax = ax
                maxValue = x[i]
            }
        }
        if amax < GGMLKQuantizer.groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        @inline(__always) func level(_ iscale: Float, _ v: Float) -> Int32 {
            GGMLScalar.cMax(-nmax, GGMLScalar.cMin(nmax - 1, GGMLScalar.nearestInt(iscale * v)))
        }
        var iscale = Float(-nmax) / maxValue
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = level(iscale, x[i])
            L[i] = Int8(truncatingIfNeeded: l + nmax)
            let w = qw[i], fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
        var best = scale * sumlx
        for step in -9...9 where step != 0 {
            iscale = -(Float(nmax) + 0.1 * Float(step)) / maxValue
            sumlx = 0
            suml2 = 0
            for i in 0..<n {
                let w = qw[i], fl = Float(level(iscale, x[i]))
                sumlx += w * x[i] * fl
                suml2 += w * fl * fl
            }
            if suml2 > 0 && sumlx * sumlx > best * suml2 {
                for i in 0..<n { L[i] = Int8(truncatingIfNeeded: nmax + level(iscale, x[i])) }
                scale = sumlx / suml2
                best = scale * sumlx
            }
        }
        return scale
    }

    /// `make_qkx3_quants(n, nmax, x, weights, L, &the_min, Laux, rmin, rdelta, nstep, false)`:
    /// scale and min of one group by a weighted least-squares grid search (squared error).
    /// Returns the scale and `the_min` (the negated min).
    static func makeQKX3(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                         _ L: UnsafeMutablePointer<UInt8>, _ aux: UnsafeMutablePointer<UInt8>,
                         rmin: Float, rdelta: Float, nstep: Int) -> (scale: Float, theMin: Float) {
        var minValue = x[0], maxValue = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < minValue { minValue = x[i] }
            if x[i] > maxValue { maxValue = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if minValue > 0 { minValue = 0 }
        if maxValue <= minValue {
            for i in 0..<n { L[i] = 0 }
            return (0, -minValue)
        }
        var iscale = Float(nmax) / (maxValue - minValue)
        var scale = 1 / iscale
        var bestMAD: Float = 0
        for i in 0..<n {
            let l = GGMLScalar.nearestInt(iscale * (x[i] - minValue))
            L[i] = UInt8(truncatingIfNeeded: GGMLScalar.cMax(0, GGMLScalar.cMin(nmax, l)))
            let diff = scale * Float(L[i]) + minValue - x[i]
            bestMAD += weights[i] * (diff * diff)
        }
        if nstep < 1 { return (scale, -minValue) }
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (maxValue - minValue)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = GGMLScalar.cMax(0, GGMLScalar.cMin(nmax, GGMLScalar.nearestInt(iscale * (x[i] - minValue))))
                aux[i] = UInt8(truncatingIfNeeded: l)
                let w = weights[i], fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            if D > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / D
                var thisMin = (sumL2 * sumX - sumL * sumXL) / D
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var mad: Float = 0
                for i in 0..<n {
                    let diff = thisScale * Float(aux[i]) + thisMin - x[i]
                    mad += weights[i] * (diff * diff)
                }
                if mad < bestMAD {
                    for i in 0..<n { L[i] = aux[i] }
                    bestMAD = mad
                    scale = thisScale
                    minValue = thisMin
                }
            }
        }
        return (scale, -minValue)
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
            let w = qw[i], fl = Float(L[i])
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
