extension GGMLType {
    /// Scale `i` (0 ..< 16) of a Q3_K block's 12 scale bytes, signed (−32 … 31), as ggml decodes it.
    public static func q3_KScale(_ scales: UnsafeRawBufferPointer, _ i: Int) -> Int32 { GGMLDequantizer.q3_KScale(scales, i) }

    /// The IQ4_NL / IQ4_XS level table (ggml `kvalues_iq4nl`): level q decodes to scale · table[q].
    public static var iq4Levels: [Int8] { GGMLScalar.iq4nlValues }

    /// Decodes whole blocks of this type into floats, exactly as ggml's `dequantize_row_*` and
    /// gguf-py's `gguf.quants.dequantize` do (the same float operations in the same order, so
    /// the same bits). Plain integer types convert to the nearest Float.
    /// - Parameters:
    ///   - bytes: whole blocks (`bytes.count` a multiple of `bytesPerBlock`).
    ///   - out: room for exactly `bytes.count / bytesPerBlock * blockSize` floats.
    /// - Throws: `GGMLError.notWholeBlocks`, `.sizeMismatch`.
    public func dequantize(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>) throws(GGMLError) {
        let size = bytesPerBlock, n = blockSize
        guard bytes.count % size == 0 else { throw .notWholeBlocks(type: self, bytes: bytes.count) }
        let blocks = bytes.count / size
        guard out.count == blocks * n else { throw .sizeMismatch(type: self, values: out.count, bytes: bytes.count) }
        decodeBlocks(bytes, out)
    }

    /// The loop of `dequantize(_:into:)`, once the sizes are checked.
    func decodeBlocks(_ bytes: UnsafeRawBufferPointer, _ out: UnsafeMutableBufferPointer<Float>) {
        let size = bytesPerBlock, n = blockSize
        guard let y = out.baseAddress else { return }
        for i in 0..<(bytes.count / size) {
            let block = UnsafeRawBufferPointer(rebasing: bytes[(i * size)..<((i + 1) * size)])
            GGMLDequantizer.decode(self, block, y + i * n)
        }
    }

    /// Decodes whole blocks of this type into a new array (see `dequantize(_:into:)`).
    /// - Throws: `GGMLError.notWholeBlocks`.
    public func dequantize(_ bytes: [UInt8]) throws(GGMLError) -> [Float] {
        guard bytes.count % bytesPerBlock == 0 else { throw .notWholeBlocks(type: self, bytes: bytes.count) }
        var out = [Float](repeating: 0, count: bytes.count / bytesPerBlock * blockSize)
        bytes.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { decodeBlocks(raw, $0) } }
        return out
    }
}

/// One block at a time, transliterated from ggml-quants.c's `dequantize_row_*`.
enum GGMLDequantizer {
    static func decode(_ type: GGMLType, _ b: UnsafeRawBufferPointer, _ y: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32: y[0] = Float(bitPattern: b.ggmlU32(0))
        case .f16: y[0] = b.ggmlHalf(0)
        case .bf16: y[0] = GGMLScalar.bf16ToFloat(b.ggmlU16(0))
        case .f64: y[0] = Float(Double(bitPattern: UInt64(b.ggmlU32(0)) | UInt64(b.ggmlU32(4)) << 32))
        case .i8: y[0] = Float(Int8(bitPattern: b[0]))
        case .i16: y[0] = Float(Int16(bitPattern: b.ggmlU16(0)))
        case .i32: y[0] = Float(Int32(bitPattern: b.ggmlU32(0)))
        case .i64: y[0] = Float(Int64(bitPattern: UInt64(b.ggmlU32(0)) | UInt64(b.ggmlU32(4)) << 32))
        case .q4_0: q4_0(b, y)
        case .q4_1: q4_1(b, y)
        case .q5_0: q5_0(b, y)
        case .q5_1: q5_1(b, y)
        case .q8_0: q8_0(b, y)
        case .q2_K: q2_K(b, y)
        case .q3_K: q3_K(b, y)
        case .q4_K: q4_K(b, y, fifthBits: false)
        case .q5_K: q4_K(b, y, fifthBits: true)
        case .q6_K: q6_K(b, y)
        case .iq4_NL: iq4_NL(b, y)
        case .iq4_XS: iq4_XS(b, y)
        }
    }

    static func q4_0(_ b: UnsafeRawBufferPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = b.ggmlHalf(0)
        for j in 0..<16 {
            let q = b[2 + j]
            y[j] = Float(Int32(q & 0x0F) - 8) * d
            y[j + 16] = Float(Int32(q >> 4) - 8) * d
        }
    }

    static func q4_1(_ b: UnsafeRawBufferPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = b.ggmlHalf(0), m = b.ggmlHalf(2)
        for j in 0..<16 {
            let q = b[4 + j]
            y[j] = Float(q & 0x0F) * d + m
            y[j + 16] = Float(q >> 4) * d + m
        }
    }

    static func q5_0(_ b: UnsafeRawBufferPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = b.ggmlHalf(0), qh = b.ggmlU32(2)
        for j in 0..<16 {
            let q = b[6 + j]
            let h0 = UInt8(truncatingIfNeeded: (qh >> UInt32(j)) << 4) & 0x10
            let h1 = UInt8(truncatingIfNeeded: qh >> UInt32(j + 12)) & 0x10
            y[j] = Float(Int32((q & 0x0F) | h0) - 16) * d
            y[j + 16] = Float(Int32((q >> 4) | h1) - 16) * d
        }
    }

    static func q5_1(_ b: UnsafeRawBufferPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = b.ggmlHalf(0), m = b.ggmlHalf(2), qh = b.ggmlU32(4)
        for j in 0..<16 {
            let q = b[8 + j]
            let h0 = UInt8(truncatingIfNeeded: (qh >> UInt32(j)) << 4) & 0x10
            let h1 = UInt8(truncatingIfNeeded: qh >> UInt32(j + 12)) & 0x10
            y[j] = Float((q & 0x0F) | h0) * d + m
            y[j + 16] = Float((q >> 4) | h1) * d + m
        }
    }

    static func q8_0(_ b: UnsafeRawBufferPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = b.ggmlHalf(0)
        for j in 0..<32 { y[j] = Float(Int8(bitPattern: b[2 + j])) * d }
    }

    static func q2_K(_ b: UnsafeRawBufferPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = b.ggmlHalf(80), dmin = b.ggmlHalf(82)
        var out = 0, scale = 0, q = 16
        for _ in 0..<2 {
            var shift: UInt8 = 0
            for _ in 0..<4 {
                for half in 0..<2 {
                    let sc = b[scale]
                    scale += 1
                    let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                    for l in 0..<16 {
                        y[out] = dl * Float((b[q + l + 16 * half] >> shift) & 3) - ml
                        out += 1
                    }
                }
                shift += 2
            }
            q += 32
        }
    }

    /// The 16 signed 6-bit scales of a Q3_K block: 4 low bits from bytes 0–7 (low nibbles, then
    /// high nibbles), 2 high bits from bytes 8–11.
    static func q3_KScale(_ s: UnsafeRawBufferPointer, _ i: Int) -> Int32 {
        let low = (s[i % 8] >> (4 * UInt8(i / 8))) & 0x0F
        let high = (s[8 + i % 4] >> (2 * UInt8(i / 4))) & 3
        return Int32(low | high << 4) - 32
    }

    static func q3_K(_ b: UnsafeRawBufferPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = b.ggmlHalf(108)
        let scales = UnsafeRawBufferPointer(rebasing: b[96..<108])
        var out = 0, scale = 0, q = 32
        var m: UInt8 = 1
        for _ in 0..<2 {
            var shift: UInt8 = 0
            for _ in 0..<4 {
                for half in 0..<2 {
                    let dl = d * Float(q3_KScale(scales, scale))
                    scale += 1
                    for l in 0..<16 {
                        let low = Int32((b[q + l + 16 * half] >> shift) & 3)
                        let high: Int32 = (b[l + 16 * half] & m) != 0 ? 0 : 4
                        y[out] = dl * Float(low - high)
                        out += 1
                    }
                }
                shift += 2
                m <<= 1
            }
            q += 32
        }
    }

    /// ggml `get_scale_min_k4`: the 6-bit scale and min of sub-block j of a Q4_K/Q5_K block.
    static func scaleMinK4(_ j: Int, _ q: UnsafeRawBufferPointer) -> (scale: UInt8, min: UInt8) {
        if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
        return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }

    /// Q4_K, or Q5_K when `fifthBits` (the same scales, qh before qs).
    static func q4_K(_ b: UnsafeRawBufferPointer, _ y: UnsafeMutablePointer<Float>, fifthBits: Bool) {
        let d = b.ggmlHalf(0), dmin = b.ggmlHalf(2)
        let scales = UnsafeRawBufferPointer(rebasing: b[4..<16])
        var q = fifthBits ? 48 : 16
        var u1: UInt8 = 1, u2: UInt8 = 2
        var out = 0
        for sub in stride(from: 0, to: 8, by: 2) {
            let (s1, m1raw) = scaleMinK4(sub, scales), (s2, m2raw) = scaleMinK4(sub + 1, scales)
            let d1 = d * Float(s1), m1 = dmin * Float(m1raw)
            let d2 = d * Float(s2), m2 = dmin * Float(m2raw)
            for l in 0..<32 {
                let high: UInt8 = fifthBits && (b[16 + l] & u1) != 0 ? 16 : 0
                y[out + l] = d1 * Float((b[q + l] & 0x0F) + high) - m1
            }
            for l in 0..<32 {
                let high: UInt8 = fifthBits && (b[16 + l] & u2) != 0 ? 16 : 0
                y[out + 32 + l] = d2 * Float((b[q + l] >> 4) + high) - m2
            }
            out += 64
            q += 32
            u1 <<= 2
            u2 <<= 2
        }
    }

    static func q6_K(_ b: UnsafeRawBufferPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = b.ggmlHalf(208)
        var ql = 0, qh = 128, sc = 192, out = 0
        for _ in 0..<2 {
            for l in 0..<32 {
                let isc = l / 16
                let h = b[qh + l]
                let q1 = Int32((b[ql + l] & 0x0F) | ((h >> 0) & 3) << 4) - 32
                let q2 = Int32((b[ql + l + 32] & 0x0F) | ((h >> 2) & 3) << 4) - 32
                let q3 = Int32((b[ql + l] >> 4) | ((h >> 4) & 3) << 4) - 32
                let q4 = Int32((b[ql + l + 32] >> 4) | ((h >> 6) & 3) << 4) - 32
                y[out + l] = d * Float(Int8(bitPattern: b[sc + isc])) * Float(q1)
                y[out + l + 32] = d * Float(Int8(bitPattern: b[sc + isc + 2])) * Float(q2)
                y[out + l + 64] = d * Float(Int8(bitPattern: b[sc + isc + 4])) * Float(q3)
                y[out + l + 96] = d * Float(Int8(bitPattern: b[sc + isc + 6])) * Float(q4)
            }
            out += 128
            ql += 64
            qh += 32
            sc += 8
        }
    }

    static func iq4_NL(_ b: UnsafeRawBufferPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = b.ggmlHalf(0)
        let values = GGMLScalar.iq4nlValues
        for j in 0..<16 {
            let q = b[2 + j]
            y[j] = d * Float(values[Int(q & 0x0F)])
            y[j + 16] = d * Float(values[Int(q >> 4)])
        }
    }

    static func iq4_XS(_ b: UnsafeRawBufferPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = b.ggmlHalf(0), scalesHigh = b.ggmlU16(2)
        let values = GGMLScalar.iq4nlValues
        for ib in 0..<8 {
            let low = Int32((b[4 + ib / 2] >> (4 * UInt8(ib % 2))) & 0x0F)
            let high = Int32((scalesHigh >> (2 * UInt16(ib))) & 3)
            let dl = d * Float((low | high << 4) - 32)
            let qs = 8 + 16 * ib
            for j in 0..<16 {
                let q = b[qs + j]
                y[32 * ib + j] = dl * Float(values[Int(q & 0x0F)])
                y[32 * ib + j + 16] = dl * Float(values[Int(q >> 4)])
            }
        }
    }
}
