/// How far a tensor's values moved from an original of the same shape: the figures `diff`,
/// `report` and the pipeline's per-tensor report show. It is `ErrorFigures`, made by
/// `init(original:changed:)`; the name reads better where two tensors are compared.
public typealias TensorDifference = ErrorFigures

extension ErrorFigures {
    /// The figures between `original` and `changed`, of any dtype and encoding (sparse tensors
    /// are expanded once, quantized ones dequantized), compared in Double a chunk at a time;
    /// nil when the shapes differ.
    public init?(original: Tensor, changed: Tensor) {
        guard original.shape == changed.shape else { return nil }
        self.init()
        func expanded(_ t: Tensor) -> Tensor {
            switch t.encoding {
            case .sparse, .ggml, .sparseQuantized: return (try? t.densified()) ?? t
            case .dense, .quantized: return t
            }
        }
        let a = expanded(original), b = expanded(changed)
        let n = a.elementCount, step = 1 << 16
        var start = 0
        while start < n {
            let range = start..<min(n, start + step)
            var x: [Double] = [], y: [Double] = []
            ElementDecoder.forEachChunk(of: a, range: range, chunk: range.count) { x = $0 }
            ElementDecoder.forEachChunk(of: b, range: range, chunk: range.count) { y = $0 }
            for (u, v) in zip(x, y) { add(original: u, changed: v) }
            start += step
        }
        // Every element of the tensor counts, as it always has, whatever the decoder delivered.
        elements = n
    }
}
