/// How a tensor in the `.ggml(type)` encoding lays out its bytes: ggml blocks of `type` over the
/// row-major elements, each row (the last axis) a whole number of blocks, so flat element `k` is
/// value `k % blockSize` of block `k / blockSize`.
public enum GGMLLayout {
    /// Payload bytes of a `.ggml(type)` tensor of `dtype` × `shape`.
    /// - Throws: `ModelError.invalidQuantization` when `type` is not a block type, the dtype is
    ///   not f32, or the last axis is not a whole number of blocks; `.shapeOverflow`.
    public static func payloadBytes(_ type: GGMLType, dtype: DType, shape: Shape) throws(ModelError) -> Int {
        guard type.isQuantized else {
            throw .invalidQuantization("ggml type \(type) is a plain element type; store it dense")
        }
        guard dtype == .f32 else { throw .invalidQuantization("a ggml \(type) tensor decodes to f32, not \(dtype)") }
        let row = shape.dims.last ?? 1
        guard row % type.blockSize == 0 else {
            throw .invalidQuantization("ggml \(type) needs rows of whole \(type.blockSize)-value blocks; the last axis of \(shape) has \(row)")
        }
        guard let n = type.byteCount(elements: shape.elementCount) else { throw .shapeOverflow(shape.dims) }
        return n
    }

    /// Decodes elements `range` of a `.ggml(type)` payload into `body`, `chunk` values at a
    /// time, dequantizing only the blocks the range touches.
    static func forEachChunk(_ type: GGMLType, _ raw: UnsafeRawBufferPointer, range: Range<Int>, chunk: Int,
                             _ body: ([Double]) -> Void) {
        let n = type.blockSize, size = type.bytesPerBlock
        var i = range.lowerBound
        var floats = [Float](), buffer = [Double]()
        while i < range.upperBound {
            let end = min(range.upperBound, i + chunk)
            let first = i / n, last = (end + n - 1) / n
            floats = [Float](repeating: 0, count: (last - first) * n)
            floats.withUnsafeMutableBufferPointer { out in
                type.decodeBlocks(UnsafeRawBufferPointer(rebasing: raw[(first * size)..<(last * size)]), out)
            }
            buffer.removeAll(keepingCapacity: true)
            for k in i..<end { buffer.append(Double(floats[k - first * n])) }
            body(buffer)
            i = end
        }
    }

    /// The f32 values of a `.ggml(type)` payload of `count` elements, row-major.
    public static func decode(_ type: GGMLType, _ data: TensorData, count: Int) -> ByteBuffer {
        ByteBuffer.build(count: count * 4) { out in
            let floats = out.bindMemory(to: Float.self)
            data.withUnsafeBytes { raw in
                // Rows of whole blocks, decoded in parallel spans of blocks.
                nonisolated(unsafe) let src = raw, dst = floats
                let blocks = count / type.blockSize, span = max(1, (1 << 16) / type.blockSize)
                Parallel.forEach((blocks + span - 1) / span) { s in
                    let lo = s * span, hi = min(blocks, lo + span)
                    let part = UnsafeMutableBufferPointer(rebasing: dst[(lo * type.blockSize)..<(hi * type.blockSize)])
                    type.decodeBlocks(UnsafeRawBufferPointer(rebasing: src[(lo * type.bytesPerBlock)..<(hi * type.bytesPerBlock)]), part)
                }
            }
        }
    }
}
