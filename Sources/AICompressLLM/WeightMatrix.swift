import AICompressCore
import AICompressTraining

/// A weight matrix `[rows (outputs) × columns (inputs)]` kept in its stored encoding (a plain
/// f32/f16/bf16 tensor or ggml blocks along each row). Products decode a panel of rows at a time
/// into a small f32 buffer and multiply it with BLAS, so a quantized model is never expanded to
/// f32 as a whole; a plain f32 matrix is multiplied in place from the mapped file.
public struct WeightMatrix: Sendable {
    /// The tensor's name.
    public let name: String
    /// Outputs.
    public let rows: Int
    /// Inputs (the reduction axis; ggml blocks run along it).
    public let columns: Int
    /// How each row is stored.
    public let type: GGMLType
    /// Bytes of one stored row.
    public let rowBytes: Int
    let data: TensorData

    /// Panels hold about this many floats (4 MiB): big enough for an efficient sgemm, small
    /// enough to stay in cache next to the activations.
    static let panelFloats = 1 << 20

    /// The matrix of a 2-D tensor (or a 1-D tensor as one row).
    /// - Throws: `LLMError.tensorEncoding` for integer, sparse or scale-quantized tensors.
    public init(_ t: Tensor) throws(LLMError) {
        let dims = t.shape.dims
        guard dims.count == 1 || dims.count == 2 else {
            throw .tensorEncoding(tensor: t.name, reason: "has \(dims.count) dimensions; a weight matrix has 1 or 2")
        }
        let type: GGMLType
        switch t.encoding {
        case .ggml(let g): type = g
        case .dense:
            switch t.dtype {
            case .f32: type = .f32
            case .f16: type = .f16
            case .bf16: type = .bf16
            default: throw .tensorEncoding(tensor: t.name, reason: "dtype \(t.dtype) is not a float type the decoder multiplies")
            }
        default: throw .tensorEncoding(tensor: t.name, reason: "encoding \(t.encoding) is not decoded by the LLM runner (dequantize it first)")
        }
        guard ![.i8, .i16, .i32, .i64].contains(type) else {
            throw .tensorEncoding(tensor: t.name, reason: "ggml type \(type) is not a weight type")
        }
        let cols = dims.last ?? 0
        guard let rb = type.byteCount(elements: cols) else {
            throw .tensorEncoding(tensor: t.name, reason: "rows of \(cols) values are not whole \(type) blocks")
        }
        self.name = t.name
        self.columns = cols
        self.rows = dims.count == 2 ? dims[0] : 1
        self.type = type
        self.rowBytes = rb
        self.data = t.data
        guard rows * rb == t.data.count else {
            throw .tensorEncoding(tensor: t.name, reason: "holds \(t.data.count) bytes, \(rows) rows of \(type) need \(rows * rb)")
        }
    }

    /// The shape `[rows, columns]`.
    public var shape: [Int] { [rows, columns] }

    /// Decodes rows `range` into `out` (`range.count × columns` floats, row after row), with
    /// ggml's own dequantizers (bit-exact with `dequantize_row_*`).
    public func decodeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        data.withUnsafeBytes { raw in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[(range.lowerBound * rowBytes)..<(range.upperBound * rowBytes)])
            // The sizes were checked in init, so this cannot throw.
            try? type.dequantize(bytes, into: UnsafeMutableBufferPointer(start: out, count: range.count * columns))
        }
    }

    /// One row as an array.
    public func row(_ r: Int) -> [Float] {
        var out = [Float](repeating: 0, count: columns)
        out.withUnsafeMutableBufferPointer { decodeRows(r..<(r + 1), into: $0.baseAddress!) }
        return out
    }

    /// `y[t × rows] = x[t × columns] · Wᵀ`, for `t` input rows; `panelRows` overrides the
    /// panel height (tests use it to cross panel edges on small matrices).
    public func multiply(_ x: UnsafePointer<Float>, rows t: Int, into y: UnsafeMutablePointer<Float>, panelRows: Int? = nil) {
        guard t > 0, rows > 0 else { return }
        if type == .f32 && panelRows == nil {
            let aligned = data.withUnsafeBytes { Int(bitPattern: $0.baseAddress) % MemoryLayout<Float>.alignment == 0 }
            if aligned {
                data.withUnsafeBytes { raw in
                    BLAS.gemm(transA: false, transB: true, m: t, n: rows, k: columns, x,
                              raw.baseAddress!.assumingMemoryBound(to: Float.self), y)
                }
                return
            }
        }
        let panel = panelRows.map { max(1, min(rows, $0)) } ?? max(16, min(rows, WeightMatrix.panelFloats / max(1, columns)))
        let w = UnsafeMutablePointer<Float>.allocate(capacity: panel * columns)
        let part = UnsafeMutablePointer<Float>.allocate(capacity: t * panel)
        defer {
            w.deallocate()
            part.deallocate()
        }
        var r0 = 0
        while r0 < rows {
            let n = min(panel, rows - r0)
            // Both cores decode halves of the panel; sgemm then uses its own threads.
            let halves = n >= 32 ? 2 : 1
            let step = (n + halves - 1) / halves
            nonisolated(unsafe) let wp = w
            Parallel.forEach(halves) { h in
                let a = h * step, b = min(n, a + step)
                if a < b { decodeRows((r0 + a)..<(r0 + b), into: wp + a * columns) }
            }
            if n == rows {
                BLAS.gemm(transA: false, transB: true, m: t, n: n, k: columns, x, w, y)
            } else {
                BLAS.gemm(transA: false, transB: true, m: t, n: n, k: columns, x, w, part)
                for i in 0..<t {
                    (y + i * rows + r0).update(from: part + i * n, count: n)
                }
            }
            r0 += n
        }
    }
}
