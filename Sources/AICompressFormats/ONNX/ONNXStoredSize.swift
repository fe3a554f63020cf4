import AICompressCore

/// The tensor bytes the ONNX writer stores for one tensor, computed without writing it (for
/// pass reports): the same choices as `ONNXWriter` and `ONNXQDQ.lower`, without copying the
/// tensor's data.
enum ONNXStoredSize {
    /// A quantized tensor is its integers, its scales (in the tensor's float type for f16 and
    /// bf16, else f32) and its zero points; any other tensor is its dense values, or with
    /// `sparseInitializers` its non-zero values plus an int64 index each when that is smaller.
    static func bytes(of t: Tensor, sparseInitializers: Bool) -> Int {
        switch t.encoding {
        case .quantized(let q):
            guard let layout = t.quantizedLayout else { return t.storedBytes }
            let scaleWidth = t.dtype == .f16 || t.dtype == .bf16 ? 2 : 4
            let zeroPoints = q.hasZeroPoint ? layout.payloadBytes - layout.zeroPointsOffset : 0
            guard sparseInitializers else { return layout.integerBytes + layout.scaleCount * scaleWidth + zeroPoints }
            // Each initializer of the QDQ form may itself go sparse.
            let integers = t.data.withUnsafeBytes { raw in
                written(q.storage.dtype, count: t.elementCount, dense: layout.integerBytes) {
                    SparseLayout.nonZeroCount(dense: UnsafeRawBufferPointer(rebasing: raw[0..<layout.integerBytes]),
                                              dtype: q.storage.dtype, count: t.elementCount)
                }
            }
            let scales = written(t.dtype == .f16 || t.dtype == .bf16 ? t.dtype : .f32, count: layout.scaleCount,
                                 dense: layout.scaleCount * scaleWidth) {
                t.data.withUnsafeBytes { raw in (0..<layout.scaleCount).filter { layout.scale(raw, $0).bitPattern != 0 }.count }
            }
            let zps = zeroPoints == 0 ? 0 : written(q.storage.dtype, count: layout.scaleCount, dense: zeroPoints) {
                t.data.withUnsafeBytes { raw in
                    SparseLayout.nonZeroCount(dense: UnsafeRawBufferPointer(rebasing: raw[layout.zeroPointsOffset..<layout.payloadBytes]),
                                              dtype: q.storage.dtype, count: layout.scaleCount)
                }
            }
            return integers + scales + zps
        case .sparse(let nnz):
            guard sparseInitializers else { return t.denseBytes }
            // The mask may keep elements that are zero; the writer stores only non-zero bytes.
            return written(t.dtype, count: t.elementCount, dense: t.denseBytes) {
                guard let layout = t.sparseLayout else { return nnz }
                return t.data.withUnsafeBytes { raw in
                    SparseLayout.nonZeroCount(dense: UnsafeRawBufferPointer(rebasing: raw[layout.valuesOffset..<layout.payloadBytes]),
                                              dtype: t.dtype, count: nnz)
                }
            }
        case .sparseQuantized:
            // Written as the quantized form it repacks.
            guard let q = try? t.expandedQuantized(), q.sparseQuantizedLayout == nil else { return t.storedBytes }
            return bytes(of: q, sparseInitializers: sparseInitializers)
        case .ggml:
            // ONNX cannot hold ggml blocks: the writer refuses such a tensor.
            return t.storedBytes
        case .dense:
            guard sparseInitializers else { return t.storedBytes }
            return written(t.dtype, count: t.elementCount, dense: t.storedBytes) {
                t.data.withUnsafeBytes { SparseLayout.nonZeroCount(dense: $0, dtype: t.dtype, count: t.elementCount) }
            }
        }
    }

    /// `dense`, or the sparse_initializer size (values plus int64 indices) when the writer
    /// would choose it: 8-bit or wider elements, and smaller than dense (`ONNXWriter.sparseProto`).
    static func written(_ dtype: DType, count: Int, dense: Int, nonZeros: () -> Int) -> Int {
        guard dtype.bits >= 8, count > 0 else { return dense }
        let sparse = nonZeros() * (dtype.bits / 8 + 8)
        return sparse < dense ? sparse : dense
    }
}
