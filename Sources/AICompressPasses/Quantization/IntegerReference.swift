import AICompressCore

/// The plain reference of the integer schemes, written apart from `IntegerQuantizer` so that it
/// can catch the fast path's mistakes: it shares no helper with it (not `QuantizedLayout`'s
/// indexing, not `QuantizationMath`). It walks the logical layout element by element with a
/// multi-index, collects every group's values, finds each range with a plain loop (or the
/// percentile / MSE rule), derives scale and zero point with onnxruntime's formula
/// (quant_utils.py compute_scale_zp), rounds half to even, and lays the payload out byte by byte
/// as spec §5 (encoding 2) describes it.
public enum IntegerReference {
    /// The payload and error figures of `values` (row-major over the request's shape).
    /// - Throws: `PassError.invalidParameter` for a request without integer parameters, or whose
    ///   shape does not hold `values.count` elements or has no such axis.
    public static func quantize(_ values: [Float], _ request: QuantizationRequest) throws -> QuantizedValues {
        let p = try request.integerParameters()
        let dims = request.shape.dims
        guard dims.reduce(1, *) == values.count else {
            throw PassError.invalidParameter(name: "shape", value: "\(dims)", reason: "shape \(dims) does not hold \(values.count) values")
        }
        if let axis = p.axis, !(0..<dims.count).contains(axis) { throw PassError.invalidParameter(name: "axis", value: "\(axis)", reason: "no axis \(axis) in \(dims)") }
        let type = IntegerType(bits: p.storage.bits, signed: p.storage.isSigned)

        // Every element's group, and every group's values in row-major order.
        let groupDims = scaleShape(dims, axis: p.axis, block: p.blockSize)
        var members = [[Float]](repeating: [], count: groupDims.reduce(1, *))
        var weights = [[Float]](repeating: [], count: members.count)
        var groupOf = [Int](repeating: 0, count: values.count)
        var index = [Int](repeating: 0, count: dims.count)  // of element k, counted up like an odometer
        for k in values.indices {
            var g = 0
            if let axis = p.axis {
                g = p.blockSize > 0 ? flatten(index, groupDims, axis: axis, block: p.blockSize) : index[axis]
            }
            groupOf[k] = g
            members[g].append(values[k])
            if let imp = request.importance { weights[g].append(imp.values[index[imp.axis]]) }
            var d = dims.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < dims[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        let scales = members.indices.map { g in
            groupScale(members[g], weights: request.importance == nil ? nil : weights[g], type: type,
                       symmetric: request.symmetric, clip: request.clip, scaleType: p.scaleType)
        }
        try QuantizationRequest.checkScales(scales.map(\.0), layout: QuantizedLayout(shape: request.shape, parameters: p))

        var integers: [Int] = []
        var figures = ErrorFigures()
        for (k, x) in values.enumerated() {
            let (s, z) = scales[groupOf[k]]
            let q = type.quantize(x, scale: s, zeroPoint: z)
            integers.append(q)
            figures.add(original: Double(x), changed: Double(Float(q - z) * s))
        }

        // Integers, zero padding to a multiple of 4, f32 or f16 scales, then zero points.
        var bytes = pack(integers, bits: type.bits)
        while bytes.count % 4 != 0 { bytes.append(0) }
        for (s, _) in scales {
            if p.scaleType == .f16 {
                let b = Float16(s).bitPattern
                bytes += [UInt8(b & 0xFF), UInt8(b >> 8)]
            } else {
                let b = s.bitPattern
                bytes += [UInt8(b & 0xFF), UInt8((b >> 8) & 0xFF), UInt8((b >> 16) & 0xFF), UInt8(b >> 24)]
            }
        }
        if p.hasZeroPoint { bytes += pack(scales.map(\.1), bits: type.bits) }
        return QuantizedValues(payload: bytes.withUnsafeBytes { ByteBuffer.copying($0) }, figures: figures)
    }

    /// An integer type's ranges, from its width and signedness alone.
    struct IntegerType {
        let bits: Int
        let signed: Bool
        /// The full range: [-2^(b-1), 2^(b-1) - 1] or [0, 2^b - 1].
        var low: Int { signed ? -(1 << (bits - 1)) : 0 }
        var high: Int { signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1 }

        /// round(x / scale) + zero point, half to even, clipped to the full range.
        func quantize(_ x: Float, scale: Float, zeroPoint: Int) -> Int {
            let q = (x / scale).rounded(.toNearestOrEven) + Float(zeroPoint)
            return Int(min(max(q, Float(low)), Float(high)))
        }
    }

    /// ONNX DequantizeLinear's scale shape: [] per tensor, [dims[axis]] per axis, and `dims` with
    /// the axis cut into blocks of `block` (the last one shorter).
    static func scaleShape(_ dims: [Int], axis: Int?, block: Int) -> [Int] {
        guard let axis else { return [] }
        guard block > 0 else { return [dims[axis]] }
        var s = dims
        s[axis] = (dims[axis] + block - 1) / block
        return s
    }

    /// The row-major position in `groupDims` of the group of the element at `index`: its index
    /// with the axis position divided by the block size.
    static func flatten(_ index: [Int], _ groupDims: [Int], axis: Int, block: Int) -> Int {
        var g = 0
        for d in index.indices { g = g * groupDims[d] + (d == axis ? index[d] / block : index[d]) }
        return g
    }

    /// Scale and zero point of one group's values under `clip`, the scale as `scaleType`
    /// stores it (one that rounds to zero becomes 1).
    static func groupScale(_ group: [Float], weights: [Float]?, type: IntegerType, symmetric: Bool, clip: ClipMethod,
                           scaleType: QuantizedScale) -> (Float, Int) {
        if clip == .leastSquares { return leastSquares(group, weights: weights, type: type, symmetric: symmetric, scaleType: scaleType) }
        let (s, z) = rangeScale(group, type: type, symmetric: symmetric, clip: clip)
        let stored = scaleType == .f16 ? Float(Float16(s)) : s
        return (stored == 0 ? 1 : stored, z)
    }

    /// Scale and zero point of one group's values under a range method, in f32.
    static func rangeScale(_ group: [Float], type: IntegerType, symmetric: Bool, clip: ClipMethod) -> (Float, Int) {
        guard !group.isEmpty else { return scaleAndZeroPoint(low: 0, high: 0, type: type, symmetric: symmetric) }
        var low = Float.infinity, high = -Float.infinity
        for x in group {
            if x < low { low = x }
            if x > high { high = x }
        }
        switch clip {
        case .minMax:
            return scaleAndZeroPoint(low: low, high: high, type: type, symmetric: symmetric)
        case .percentile(let pct):
            // Nearest rank: the ceil(p/100 · n)-th smallest value.
            func rank(_ p: Double) -> Int { min(group.count - 1, max(0, Int((p / 100 * Double(group.count)).rounded(.up)) - 1)) }
            if symmetric {
                let m = group.map { abs($0) }.sorted()[rank(pct)]
                return scaleAndZeroPoint(low: -m, high: m, type: type, symmetric: true)
            }
            let sorted = group.sorted()
            return scaleAndZeroPoint(low: sorted[rank(100 - pct)], high: sorted[rank(pct)], type: type, symmetric: false)
        case .mse:
            // The range shrunk by 0%, 1%, …, 50%: the first (widest) of those with the least
            // squared error.
            let candidates = (0...50).map { percent -> (Float, Int) in
                let r = Float(100 - percent) / 100
                return scaleAndZeroPoint(low: low * r, high: high * r, type: type, symmetric: symmetric)
            }
            let errors = candidates.map { squaredError(group, $0, type) }
            guard let least = errors.min(), let first = errors.firstIndex(of: least) else { return candidates[0] }
            return candidates[first]
        case .leastSquares:
            return leastSquares(group, weights: nil, type: type, symmetric: symmetric, scaleType: .f32)
        }
    }

    /// Σ(x − x̂)² of a group under one scale and zero point.
    static func squaredError(_ group: [Float], _ sz: (Float, Int), _ type: IntegerType) -> Double {
        var e = 0.0
        for x in group {
            let back = Float(type.quantize(x, scale: sz.0, zeroPoint: sz.1) - sz.1) * sz.0
            e += (Double(x) - Double(back)) * (Double(x) - Double(back))
        }
        return e
    }

    /// onnxruntime's compute_scale_zp: the range widened to hold 0, made ±absmax when symmetric
    /// (then signed types use [-(2^(b-1) - 1), 2^(b-1) - 1], so 0 sits in the middle), scale in
    /// double and stored as float, zero point rounded half to even; a range too small for a
    /// normal float gives scale 1 and zero point 0.
    static func scaleAndZeroPoint(low: Float, high: Float, type: IntegerType, symmetric: Bool) -> (Float, Int) {
        var rmin = min(low, 0), rmax = max(high, 0)
        let qmin = symmetric && type.signed ? -type.high : type.low, qmax = type.high
        if symmetric {
            let m = max(abs(rmin), abs(rmax))
            rmin = -m
            rmax = m
        }
        let scale = (Double(rmax) - Double(rmin)) / Double(qmax - qmin)
        guard scale >= Double(Float.leastNormalMagnitude) else { return (1, 0) }
        let zeroPoint = symmetric ? (Double(qmin + qmax) / 2).rounded(.toNearestOrEven)
                                  : (Double(qmin) - Double(rmin) / scale).rounded(.toNearestOrEven)
        return (Float(scale), Int(zeroPoint))
    }

    /// `values` as `bits`-bit two's-complement fields, least significant first in each byte
    /// (two 4-bit values per byte, element 2k in the low nibble).
    static func pack(_ values: [Int], bits: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: (values.count * bits + 7) / 8)
        let mask = (1 << bits) - 1
        for (k, v) in values.enumerated() {
            bytes[k * bits / 8] |= UInt8(truncatingIfNeeded: (v & mask) << (k * bits % 8))
        }
        return bytes
    }
}
