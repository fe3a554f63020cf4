import AICompressCore

extension TensorReport {
    /// The report of a tensor a calibrated method encoded into ggml `type` and measures itself
    /// (AWQ: its encoding is of scaled weights, so `decoded` is what the model computes in the
    /// original basis): the figures `quantize` reports, of `original` against `decoded`.
    public static func ggml(name: String, type: GGMLType, method: String, original: [Float], decoded: [Float],
                            bytesBefore: Int, bytesAfter: Int) -> TensorReport {
        let (s, e, m, z) = GGMLRowQuantizer.errorFigures(original, decoded)
        return TensorReport(name: name, scheme: "ggml \(type.name) \(method)", bytesBefore: bytesBefore, bytesAfter: bytesAfter,
                            elements: original.count, signalEnergy: s, errorEnergy: e, maxAbsError: m, zerosAfter: z)
    }
}
