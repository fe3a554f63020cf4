import AICompressCore
import CKernels

/// Encodes one tensor into a ggml type a chunk of rows at a time, in parallel over chunks: each
/// chunk's values are read from the source (f32 in place, other dtypes and encodings decoded
/// for that chunk only), encoded, then decoded again to measure the error of the report. The
/// chunks are the only level of parallelism: `PassDriver` hands this pass one tensor at a time
/// (`TensorTransform.parallelInside`), as llama-quantize does (a nested `concurrentPerform`
/// would run the chunks one after another).
enum GGMLRowQuantizer {
    /// Values per chunk (whole rows, at least one).
    static let chunkValues = 1 << 16

    /// `importance` (one value per column, `GGMLType.usesImportance` types only) weights the
    /// scale searches as llama-quantize --imatrix does.
    static func quantize(_ t: Tensor, to type: GGMLType, importance: [Float]? = nil) throws -> (Tensor, TensorReport) {
        let n = t.elementCount
        let row = t.shape.dims.last ?? 1
        guard row > 0, n > 0, row % type.blockSize == 0, let bytes = type.byteCount(elements: n) else {
            throw PassError.unsupported(tensor: t.name, reason: "rows of \(row) values are not whole \(type) blocks of \(type.blockSize)")
        }
        let rowsPerChunk = max(1, chunkValues / row), rows = n / row
        let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
        let rowBytes = bytes / rows
        var figures = [(signal: Double, error: Double, maxAbs: Double, zeros: Int)]()
        let buffer = ByteBuffer.build(count: bytes) { out in
            nonisolated(unsafe) let dst = out
            figures = Parallel.map(chunks) { c in
                let r0 = c * rowsPerChunk, r1 = min(rows, r0 + rowsPerChunk)
                var x = [Float](repeating: 0, count: (r1 - r0) * row)
                readValues(t, from: r0 * row, into: &x)
                let part = UnsafeMutableRawBufferPointer(rebasing: dst[(r0 * rowBytes)..<(r1 * rowBytes)])
                x.withUnsafeBufferPointer { values in
                    if let importance {
                        importance.withUnsafeBufferPointer { try? GGMLFastEncoder.encode(type, values, rowLength: row, importance: $0, into: part) }
                    } else {
                        try? GGMLFastEncoder.encode(type, values, into: part)
                    }
                }
                var y = [Float](repeating: 0, count: x.count)
                y.withUnsafeMutableBufferPointer { try? type.dequantize(UnsafeRawBufferPointer(part), into: $0) }
                return errorFigures(x, y)
            }
        }
        let out: Tensor
        switch type {
        case .f16: out = try Tensor(name: t.name, dtype: .f16, shape: t.shape, data: TensorData(buffer))
        case .bf16: out = try Tensor(name: t.name, dtype: .bf16, shape: t.shape, data: TensorData(buffer))
        case .f32: out = try Tensor(name: t.name, dtype: .f32, shape: t.shape, data: TensorData(buffer))
        default: out = try Tensor(name: t.name, dtype: .f32, shape: t.shape, encoding: .ggml(type), data: TensorData(buffer))
        }
        let report = TensorReport(name: t.name, scheme: "ggml \(type.name)", bytesBefore: t.storedBytes, bytesAfter: bytes,
                                  elements: n, signalEnergy: figures.reduce(0) { $0 + $1.signal },
                                  errorEnergy: figures.reduce(0) { $0 + $1.error },
                                  maxAbsError: figures.reduce(0) { max($0, $1.maxAbs) }, zerosAfter: figures.reduce(0) { $0 + $1.zeros })
        return (out, report)
    }

    /// Elements `start ..< start + x.count` of `t` as f32.
    static func readValues(_ t: Tensor, from start: Int, into x: inout [Float]) {
        let count = x.count
        if t.isDense && (t.dtype == .f32 || t.dtype == .f16 || t.dtype == .bf16) {
            let dtype = t.dtype
            t.data.withUnsafeBytes { raw in
                x.withUnsafeMutableBufferPointer { x in
                    switch dtype {
                    case .f16 where GGMLFastEncoder.f16c:
                        // Exact, as the loop below (F16C instead of a library call per value).
                        guard let h = raw.baseAddress, let out = x.baseAddress else { return }
                        aic_f16_to_f32_f16c((h + 2 * start).assumingMemoryBound(to: UInt16.self), out, Int64(count))
                    case .f16:
                        for k in 0..<count {
                            x[k] = Float(float16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * (start + k), as: UInt16.self)))
                        }
                    case .f32:
                        for k in 0..<count {
                            x[k] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * (start + k), as: UInt32.self)))
                        }
                    default:
                        for k in 0..<count {
                            x[k] = Float(bfloat16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * (start + k), as: UInt16.self)))
                        }
                    }
                }
            }
            return
        }
        var k = 0
        ElementDecoder.forEachChunk(of: t, range: start..<(start + count), chunk: 4096) { chunk in
            for v in chunk {
                x[k] = Float(v)
                k += 1
            }
        }
    }
}
