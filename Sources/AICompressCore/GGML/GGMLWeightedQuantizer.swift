/// ggml-quants.c's quantizers with an importance matrix (`quantize_q4_0(…, quant_weights)` and
/// its siblings, what llama-quantize --imatrix runs), one row at a time: the legacy types'
/// `quantize_row_*_impl` and `quantize_row_iq4_nl_impl` with weights here, the K-quants in
/// `GGMLWeightedKQuantizer`. Every element's weight is `qw[j] · sqrt(σ² + x[j]²)` with σ² the
/// row's (legacy), the super-block's (K, IQ4_XS) or the block's (IQ4_NL) mean square; Q6_K uses
/// `qw` alone. Q8_0 ignores the weights in ggml, so it is not listed here.
enum GGMLWeightedQuantizer {
    /// Whether llama.cpp's quantizer of `type` reads importance weights.
    static func usesImportance(_ type: GGMLType) -> Bool {
        switch type {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS: return true
        default: return false
        }
    }

    /// One row of `n` values (`x`) with its importance `qw` (n values) into `y`.
    static func row(_ type: GGMLType, _ x: UnsafePointer<Float>, _ n: Int, _ qw: UnsafePointer<Float>,
                    _ y: UnsafeMutableRawPointer) {
        switch type {
        case .q4_0, .q5_0: legacySymmetric(type, x, n, qw, y)
        case .q4_1, .q5_1: legacyWithMin(type, x, n, qw, y)
        case .iq4_NL:
            for b in 0..<(n / 32) { iq4(superBlock: 32, x + 32 * b, qw + 32 * b, y + 18 * b) }
        case .iq4_XS:
            for b in 0..<(n / 256) { iq4(superBlock: 256, x + 256 * b, qw + 256 * b, y + 136 * b) }
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K:
            let size = type.bytesPerBlock
            for b in 0..<(n / 256) { GGMLWeightedKQuantizer.superBlock(type, x + 256 * b, qw + 256 * b, y + size * b) }
        default: break
        }
    }

    /// σ² of the legacy types: the row's mean square.
    static func rowSigma2(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var sumX2: Float = 0
        for j in 0..<n { sumX2 += x[j] * x[j] }
        return sumX2 / Float(n)
    }

    /// `weight[j] = qw[j] * sqrtf(sigma2 + x[j]*x[j])` for `count` values.
    @inline(__always)
    static func weights(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>, _ sigma2: Float, _ count: Int,
                        _ w: UnsafeMutablePointer<Float>) {
        for j in 0..<count { w[j] = qw[j] * (sigma2 + x[j] * x[j]).squareRoot() }
    }

    static func store16(_ y: UnsafeMutableRawPointer, _ v: UInt16, at offset: Int) {
        y.storeBytes(of: UInt8(v & 0xFF), toByteOffset: offset, as: UInt8.self)
        y.storeBytes(of: UInt8(v >> 8), toByteOffset: offset + 1, as: UInt8.self)
    }

    static func storeHalf(_ y: UnsafeMutableRawPointer, _ f: Float, at offset: Int) { store16(y, GGMLScalar.fp16Bits(f), at: offset) }

    static func store32(_ y: UnsafeMutableRawPointer, _ v: UInt32, at offset: Int) {
        for k in 0..<4 { y.storeBytes(of: UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))), toByteOffset: offset + k, as: UInt8.self) }
    }

    /// Nibbles of levels `L[j]` (low) and `L[j + 16]` (high) at `qs`, and for 5-bit types the
    /// fifth bits as a little-endian u32 at `qh`.
    static func packLegacy<T: BinaryInteger>(_ L: UnsafePointer<T>, _ y: UnsafeMutableRawPointer, qs: Int, qh: Int?) {
        var high: UInt32 = 0
        for j in 0..<16 {
            let a = UInt8(truncatingIfNeeded: L[j]), b = UInt8(truncatingIfNeeded: L[j + 16])
            if qh == nil {
                y.storeBytes(of: a | b << 4, toByteOffset: qs + j, as: UInt8.self)
            } else {
                y.storeBytes(of: (a & 0x0F) | (b & 0x0F) << 4, toByteOffset: qs + j, as: UInt8.self)
                high |= (UInt32(a & 0x10) >> 4) << UInt32(j)
                high |= (UInt32(b & 0x10) >> 4) << UInt32(j + 16)
            }
        }
        if let qh { store32(y, high, at: qh) }
    }

    /// The legacy types' row loop: σ² of the row, then per block of 32 its weights and `fit`
    /// (which writes the block at `yb`, given its values, weights and 64 bytes of level space).
    static func legacyRow(_ x: UnsafePointer<Float>, _ n: Int, _ qw: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer,
                          blockBytes: Int,
                          _ fit: (_ xb: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>,
                                  _ yb: UnsafeMutableRawPointer) -> Void) {
        let sigma2 = rowSigma2(x, n)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { w in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { levels in
                guard let w = w.baseAddress, let L = levels.baseAddress else { return }
                for b in 0..<(n / 32) {
                    weights(x + 32 * b, qw + 32 * b, sigma2, 32, w)
                    fit(x + 32 * b, w, L, y + blockBytes * b)
                }
            }
        }
    }

    /// `quantize_row_q4_0_impl` / `quantize_row_q5_0_impl`: `make_qx_quants(32, 8 or 16, …)`.
    static func legacySymmetric(_ type: GGMLType, _ x: UnsafePointer<Float>, _ n: Int, _ qw: UnsafePointer<Float>,
                                _ y: UnsafeMutableRawPointer) {
        let five = type == .q5_0
        legacyRow(x, n, qw, y, blockBytes: five ? 22 : 18) { xb, w, L, yb in
            L.withMemoryRebound(to: Int8.self, capacity: 32) { levels in
                storeHalf(yb, GGMLWeightedSearch.makeQX(32, five ? 16 : 8, xb, levels, w), at: 0)
                packLegacy(UnsafePointer(levels), yb, qs: five ? 6 : 2, qh: five ? 2 : nil)
            }
        }
    }

    /// `quantize_row_q4_1_impl` / `quantize_row_q5_1_impl`: `make_qkx3_quants(32, 15 or 31, …,
    /// -0.9, 0.05, 36)`; d and -min as f16.
    static func legacyWithMin(_ type: GGMLType, _ x: UnsafePointer<Float>, _ n: Int, _ qw: UnsafePointer<Float>,
                              _ y: UnsafeMutableRawPointer) {
        let five = type == .q5_1
        legacyRow(x, n, qw, y, blockBytes: five ? 24 : 20) { xb, w, L, yb in
            let (d, theMin) = GGMLWeightedSearch.makeQKX3(32, five ? 31 : 15, xb, w, L, L + 32, rmin: -0.9, rdelta: 0.05, nstep: 36)
            storeHalf(yb, d, at: 0)
            storeHalf(yb, -theMin, at: 2)
            packLegacy(UnsafePointer(L), yb, qs: five ? 8 : 4, qh: five ? 4 : nil)
        }
    }

    /// `quantize_row_iq4_nl_impl(super_block, 32, …, quant_weights, ntry 7)` for one IQ4_NL
    /// block (super-block 32) or one IQ4_XS super-block (256).
    static func iq4(superBlock: Int, _ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var sigma2: Float = 0
        for j in 0..<superBlock { sigma2 += x[j] * x[j] }
        sigma2 *= 2 / Float(superBlock)
        let tries = 7, blocks = superBlock / 32
        GGMLScalar.iq4nlValues.withUnsafeBufferPointer { values in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 32 + 8) { buffer in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { levels in
                    guard let w = buffer.baseAddress, let L = levels.baseAddress else { return }
                    let scales = w + 32
                    var maxScale: Float = 0, amaxScale: Float = 0
                    let v0 = Float(values[0])
                    for ib in 0..<blocks {
                        let xb = x + 32 * ib, Lb = L + 32 * ib
                        weights(xb, qw + 32 * ib, sigma2, 32, w)
                        var amax: Float = 0, maxValue: Float = 0
                        for j in 0..<32 where abs(xb[j]) > amax {
                            amax = abs(xb[j])
                            maxValue = xb[j]
                        }
                        if amax < GGMLKQuantizer.groupMaxEps {
                            scales[ib] = 0
                            continue
                        }
                        var d = -maxValue / v0
                        var id = 1 / d
                        var sumQX: Float = 0, sumQ2: Float = 0
                        for j in 0..<32 {
                            let l = GGMLIQ4NLQuantizer.bestIndex(values, id * xb[j])
                            Lb[j] = UInt8(l)
                            let q = Float(values[l])
                            sumQX += w[j] * q * xb[j]
                            sumQ2 += w[j] * q * q
                        }
                        d = sumQ2 > 0 ? sumQX / sumQ2 : 0
                        var best = d * sumQX
                        for trial in -tries...tries {
                            id = (Float(trial) + v0) / maxValue
                            sumQX = 0
                            sumQ2 = 0
                            for j in 0..<32 {
                                let q = Float(values[GGMLIQ4NLQuantizer.bestIndex(values, id * xb[j])])
                                sumQX += w[j] * q * xb[j]
                                sumQ2 += w[j] * q * q
                            }
                            if sumQ2 > 0 && sumQX * sumQX > best * sumQ2 {
                                d = sumQX / sumQ2
                                best = d * sumQX
                            }
                        }
                        scales[ib] = d
                        if abs(d) > amaxScale {
                            amaxScale = abs(d)
                            maxScale = d
                        }
                    }
                    if blocks > 1 {
                        // IQ4_XS: d at 0, scales_h (u16) at 2, scales_l[4] at 4, qs at 8.
                        let d = -maxScale / 32
                        storeHalf(y, d, at: 0)
                        let id: Float = d != 0 ? 1 / d : 0
                        var high: UInt16 = 0
                        var low = [UInt8](repeating: 0, count: 4)
                        for ib in 0..<blocks {
                            let l = GGMLScalar.cMax(-32, GGMLScalar.cMin(31, GGMLScalar.nearestInt(id * scales[ib])))
                            let dl = d * Float(l)
                            let idl: Float = dl != 0 ? 1 / dl : 0
                            for j in 0..<32 { L[32 * ib + j] = UInt8(GGMLIQ4NLQuantizer.bestIndex(values, idl * x[32 * ib + j])) }
                            let biased = UInt8(truncatingIfNeeded: l + 32)
                            low[ib / 2] |= (biased & 0x0F) << (4 * UInt8(ib % 2))
                            high |= UInt16(biased >> 4) << (2 * UInt16(ib % 8))
                        }
                        store16(y, high, at: 2)
                        for k in 0..<4 { y.storeBytes(of: low[k], toByteOffset: 4 + k, as: UInt8.self) }
                    } else {
                        storeHalf(y, scales[0], at: 0)
                        let id: Float = scales[0] != 0 ? 1 / scales[0] : 0
                        for j in 0..<32 { L[j] = UInt8(GGMLIQ4NLQuantizer.bestIndex(values, id * x[j])) }
                    }
                    let qs = blocks > 1 ? 8 : 2
                    for i in 0..<blocks {
                        for j in 0..<16 {
                            y.storeBytes(of: L[32 * i + j] | L[32 * i + 16 + j] << 4, toByteOffset: qs + 16 * i + j, as: UInt8.self)
                        }
                    }
                }
            }
        }
    }
}
