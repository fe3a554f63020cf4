import AICompressCore

extension GGMLRowQuantizer {
    /// The report of `encoded` (`type` blocks made elsewhere, GPTQ's) against `original`,
    /// whose figures are measured as `quantize` measures its own.
    static func report(original t: Tensor, encoded: Tensor, type: GGMLType, method: String) throws -> TensorReport {
        var x = [Float](repeating: 0, count: t.elementCount)
        readValues(t, from: 0, into: &x)
        var y = [Float](repeating: 0, count: x.count)
        var failure: GGMLError?
        encoded.data.withUnsafeBytes { raw in
            y.withUnsafeMutableBufferPointer { out in
                do throws(GGMLError) { try type.dequantize(raw, into: out) } catch { failure = error }
            }
        }
        if let failure { throw failure }
        let (s, e, m, z) = errorFigures(x, y)
        return TensorReport(name: t.name, scheme: "ggml \(type.name) \(method)", bytesBefore: t.storedBytes, bytesAfter: encoded.storedBytes,
                            elements: x.count, signalEnergy: s, errorEnergy: e, maxAbsError: m, zerosAfter: z)
    }

    /// Signal and error energy (in Double), the largest absolute error and the zeros of `y`, the
    /// decoded values of `x`: the figures of a tensor's report.
    static func errorFigures(_ x: [Float], _ y: [Float]) -> (signal: Double, error: Double, maxAbs: Double, zeros: Int) {
        var s = 0.0, e = 0.0, m = 0.0, z = 0
        for k in 0..<x.count {
            let u = Double(x[k]), d = u - Double(y[k])
            s += u * u
            e += d * d
            m = max(m, abs(d))
            if y[k] == 0 { z += 1 }
        }
        return (s, e, m, z)
    }
}
