extension GGMLType {
    /// True when llama.cpp's quantizer of this type reads an importance matrix (Q4_0, Q4_1,
    /// Q5_0, Q5_1, Q2_K…Q6_K, IQ4_NL, IQ4_XS); Q8_0, F16, BF16 and F32 ignore it.
    public var usesImportance: Bool { GGMLWeightedQuantizer.usesImportance(self) }

    /// Encodes rows of `rowLength` floats as llama-quantize --imatrix does
    /// (`ggml_quantize_chunk(type, …, quant_weights)`): every row weighted by the same
    /// `importance` (one value per column, in_sum2 / count of llama-imatrix). Types that ignore
    /// the importance (`usesImportance` false) give `quantize(_:into:)`'s bytes.
    /// - Parameters:
    ///   - values: whole rows, each a whole number of blocks.
    ///   - importance: `rowLength` values.
    ///   - out: room for exactly the encoded rows.
    /// - Throws: `GGMLError.noQuantizer`, `.valuesNotWholeBlocks`, `.sizeMismatch`.
    public func quantize(_ values: UnsafeBufferPointer<Float>, rowLength: Int, importance: UnsafeBufferPointer<Float>,
                         into out: UnsafeMutableRawBufferPointer) throws(GGMLError) {
        guard usesImportance else { return try quantize(values, into: out) }
        let n = blockSize
        guard rowLength > 0, rowLength % n == 0, values.count % rowLength == 0 else {
            throw .valuesNotWholeBlocks(type: self, values: rowLength)
        }
        guard out.count == values.count / n * bytesPerBlock else { throw .sizeMismatch(type: self, values: values.count, bytes: out.count) }
        guard importance.count == rowLength else { throw .sizeMismatch(type: self, values: rowLength, bytes: importance.count) }
        guard let x = values.baseAddress, let qw = importance.baseAddress, let y = out.baseAddress else { return }
        let rowBytes = rowLength / n * bytesPerBlock
        for r in 0..<(values.count / rowLength) {
            GGMLWeightedQuantizer.row(self, x + r * rowLength, rowLength, qw, y + r * rowBytes)
        }
    }

    /// `quantize(_:rowLength:importance:into:)` into a new byte array.
    /// - Throws: as that function.
    public func quantize(_ values: [Float], rowLength: Int, importance: [Float]) throws(GGMLError) -> [UInt8] {
        guard values.count % blockSize == 0 else { throw .valuesNotWholeBlocks(type: self, values: values.count) }
        var out = [UInt8](repeating: 0, count: values.count / blockSize * bytesPerBlock)
        var failure: GGMLError?
        values.withUnsafeBufferPointer { x in
            importance.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBytes { y in
                    do throws(GGMLError) { try quantize(x, rowLength: rowLength, importance: w, into: y) } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
        return out
    }
}
