import AICompressCore

/// Tensor encodings in a checkpoint index (spec §5): the `encoding_params` bytes the writer
/// puts after each entry and the reader checks against the tensor.
enum CheckpointEncoding {
    /// The encoding of code `code` with `params` (spec §5), checked against the tensor.
    static func decode(
        _ code: UInt8, params: [UInt8], tensor: String, dtype: DType, shape: Shape, offset: Int
    ) throws(CheckpointError) -> TensorEncoding {
        switch code {
        case 0:
            guard params.isEmpty else { throw .invalidEncodingParams(tensor: tensor, offset: offset) }
            return .dense
        case 1:
            guard params.count == 8 else { throw .invalidEncodingParams(tensor: tensor, offset: offset) }
            let nnz = params.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            guard nnz <= UInt64(shape.elementCount), (try? SparseLayout(dtype: dtype, count: shape.elementCount, nonZeros: Int(nnz))) != nil else {
                throw .invalidEncodingParams(tensor: tensor, offset: offset)
            }
            return .sparse(nonZeros: Int(nnz))
        case 3:
            // u32 ggml type id (spec §5.3); the tensor init checks dtype, rows and length.
            guard params.count == 4 else { throw .invalidEncodingParams(tensor: tensor, offset: offset) }
            let id = params.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
            guard let type = try? GGMLType(id: id), (try? GGMLLayout.payloadBytes(type, dtype: dtype, shape: shape)) != nil else {
                throw .invalidEncodingParams(tensor: tensor, offset: offset)
            }
            return .ggml(type)
        case 4:
            // u64 nnz, then the quantized parameters (spec §5.4).
            guard params.count == 20 else { throw .invalidEncodingParams(tensor: tensor, offset: offset) }
            let nnz = params.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            guard nnz <= UInt64(shape.elementCount),
                  case .quantized(let q) = try decode(2, params: Array(params[8...]), tensor: tensor, dtype: dtype, shape: shape,
                                                      offset: offset),
                  (try? SparseQuantizedLayout(shape: shape, parameters: q, nonZeros: Int(nnz))) != nil else {
                throw .invalidEncodingParams(tensor: tensor, offset: offset)
            }
            return .sparseQuantized(nonZeros: Int(nnz), q)
        default:
            guard params.count == 12, let storage = QuantizedStorage(rawValue: params[0]), params[1] & 0xFC == 0,
                  params[2] == 0, params[3] == 0, dtype.isFloatingPoint else {
                throw .invalidEncodingParams(tensor: tensor, offset: offset)
            }
            let axisRaw = params.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: Int32.self)) }
            let block = params.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) }
            guard axisRaw >= -1, Int(axisRaw) < shape.rank, axisRaw >= 0 || block == 0 else {
                throw .invalidEncodingParams(tensor: tensor, offset: offset)
            }
            let q = QuantizationParameters(storage: storage, axis: axisRaw < 0 ? nil : Int(axisRaw), blockSize: Int(block),
                                           hasZeroPoint: params[1] & 1 == 1, scaleType: params[1] & 2 == 2 ? .f16 : .f32)
            guard (try? QuantizedLayout(shape: shape, parameters: q)) != nil else {
                throw .invalidEncodingParams(tensor: tensor, offset: offset)
            }
            return .quantized(q)
        }
    }

    /// The `encoding_params` bytes of an encoding.
    static func params(_ encoding: TensorEncoding) -> [UInt8] {
        if case .sparse(let nnz) = encoding {
            return withUnsafeBytes(of: UInt64(nnz).littleEndian) { Array($0) }
        }
        if case .ggml(let type) = encoding {
            return withUnsafeBytes(of: type.rawValue.littleEndian) { Array($0) }
        }
        var out: [UInt8] = []
        let q: QuantizationParameters
        switch encoding {
        case .quantized(let p): q = p
        case .sparseQuantized(let nnz, let p):
            withUnsafeBytes(of: UInt64(nnz).littleEndian) { out.append(contentsOf: $0) }
            q = p
        default: return []
        }
        // flags: bit 0 zero points, bit 1 binary16 scales (spec §5.1)
        out += [q.storage.rawValue, (q.hasZeroPoint ? 1 : 0) | (q.scaleType == .f16 ? 2 : 0), 0, 0]
        withUnsafeBytes(of: Int32(q.axis ?? -1).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(q.blockSize).littleEndian) { out.append(contentsOf: $0) }
        return out
    }
}
