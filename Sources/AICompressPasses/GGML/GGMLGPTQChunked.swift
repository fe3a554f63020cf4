import AICompressCore

extension GGMLGPTQ {
    /// Rows per chunk of `quantizeInChunks` by default: about 64 MiB of f32, a whole number of rows.
    public static func defaultChunkRows(columns n: Int) -> Int { max(1, (64 << 20) / (4 * max(1, n))) }

    /// GPTQ of a `rows × columns` matrix that is never held whole in f32: the order and factor
    /// of its input are computed once (`factored(gram:)`), then `decode` fills `chunkRows` rows
    /// at a time (the range of rows, into a `count × columns` buffer), each chunk is swept with
    /// that factor and its encoded rows are appended. A row's sweep reads only its own row and
    /// the shared factor, so the bytes are those of the whole matrix at once (the lazy update's
    /// matrix product over a chunk's rows computes each row's entries from that row alone; the
    /// tests check 1, 7 and 300-row chunks against one chunk). Peak memory: the bytes, the
    /// factor and a few chunks of f32. `Result.weights` is empty and `loss` is the sum over chunks.
    /// With `cross` (ΔᵀX, dense targets) each chunk is first moved to W* = W + W·G
    /// (`DenseTargetGain`, one G for the matrix) by the row-independent product
    /// (`DenseTargetGain.rowIndependentTarget`), so the chunking still gives the whole matrix's bytes.
    /// - Throws: `PassError.unsupported` naming `layer` when the rows are not whole blocks or the
    ///   Hessian is not positive definite, or W* is not finite.
    public func quantizeInChunks(rows: Int, columns n: Int, gram: [Double], importance: [Float]?, layer: String,
                                 chunkRows: Int? = nil, cross: [Double]? = nil,
                                 decode: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) throws -> Result {
        let factored = try factored(gram: gram, columns: n, layer: layer)
        let gain = cross.map { DenseTargetGain(cross: $0, factor: factored.factor, order: factored.order) }
        let chunk = max(1, min(rows, chunkRows ?? Self.defaultChunkRows(columns: n)))
        let rowBytes = n / type.blockSize * type.bytesPerBlock
        var bytes = [UInt8]()
        bytes.reserveCapacity(rows * rowBytes)
        var loss = 0.0
        var values = [Float](repeating: 0, count: chunk * n)
        for start in stride(from: 0, to: rows, by: chunk) {
            let count = min(chunk, rows - start)
            if count < chunk { values = [Float](repeating: 0, count: count * n) }
            values.withUnsafeMutableBufferPointer { decode(start..<(start + count), $0.baseAddress!) }
            if let gain { values = try gain.rowIndependentTarget(values, rows: count, layer: layer) }
            let r = try quantize(values, rows: count, columns: n, factored: factored, importance: importance, layer: layer,
                                 decoding: false)
            bytes.append(contentsOf: r.bytes)
            loss += r.loss
        }
        return Result(bytes: bytes, weights: [], loss: loss)
    }
}
