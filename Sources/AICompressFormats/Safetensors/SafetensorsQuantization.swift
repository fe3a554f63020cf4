import AICompressCore

/// Quantized tensors in safetensors, in the naming compressed-tensors and llm-compressor use:
///
/// - `NAME`: the integers — I8 or U8 with the tensor's shape; 4-bit values as U8 bytes, two per
///   byte (element 2k in the low nibble), shape `[ceil(count / 2)]`;
/// - `NAME_scale`: F32 scales with the ONNX DequantizeLinear scale shape (`[]` per tensor,
///   `[dims[axis]]` per channel, dims with `dims[axis]` -> `ceil(dims[axis] / B)` per group);
/// - `NAME_zero_point`: zero points in the integers' type (packed likewise for 4-bit), when
///   the scheme has them;
/// - `__metadata__["aicompress.quantized.NAME"]`: `storage=int8 axis=0 block=0 dtype=f32
///   shape=32,64` — what aicompress needs to read the tensor back losslessly. Other tools see
///   three plain tensors.
enum SafetensorsQuantization {
    static let keyPrefix = "aicompress.quantized."

    static func lower(_ tensors: [Tensor], metadata: [String: String]) throws -> ([Tensor], [String: String]) {
        let (groups, meta) = try lowerGrouped(tensors, metadata: metadata)
        return (groups.flatMap { $0 }, meta)
    }

    /// `lower`, with the plain tensors of each input tensor kept together (`NAME`, `NAME_scale`,
    /// `NAME_zero_point`), so that a sharded set never splits a quantized tensor from its scales.
    static func lowerGrouped(_ tensors: [Tensor], metadata: [String: String]) throws -> ([[Tensor]], [String: String]) {
        guard tensors.contains(where: { !$0.isDense }) else { return (tensors.map { [$0] }, metadata) }
        if let t = tensors.first(where: { $0.ggmlType != nil }) {
            throw SafetensorsError.unrepresentable("tensor '\(t.name)' is stored in \(t.encoding) blocks, which safetensors has no dtype for; dequantize the model first (aicompress dequantize), or write GGUF or .ckpt")
        }
        var out: [[Tensor]] = []
        var meta = metadata
        let names = Set(tensors.map(\.name))
        for stored in tensors {
            // A sparse + quantized tensor goes out as the quantized form it repacks.
            let t = try stored.expandedQuantized()
            if case .sparse = t.encoding {
                out.append([try t.densified()])  // safetensors has no sparse layout
                continue
            }
            guard case .quantized(let q) = t.encoding, let layout = t.quantizedLayout else {
                out.append([t])
                continue
            }
            for suffix in ["_scale", "_zero_point"] where names.contains(t.name + suffix) {
                throw SafetensorsError.unrepresentable("tensor '\(t.name)\(suffix)' would clash with the scales of '\(t.name)'")
            }
            let (qData, scales, zps) = ONNXQDQ.parts(t, layout)
            let packed = q.storage.bits == 4
            let qShape = packed ? try Shape([layout.integerBytes]) : t.shape
            var group = [try Tensor(name: t.name, dtype: packed ? .u8 : q.storage.dtype, shape: qShape, data: qData)]
            group.append(try Tensor(name: t.name + "_scale", shape: try Shape(layout.scaleShape), floats: scales))
            if let zps {
                let zShape = packed ? try Shape([zps.count]) : try Shape(layout.scaleShape)
                group.append(try Tensor(name: t.name + "_zero_point", dtype: packed ? .u8 : q.storage.dtype, shape: zShape, data: zps))
            }
            out.append(group)
            meta[keyPrefix + t.name] = "storage=\(q.storage.name) axis=\(q.axis ?? -1) block=\(q.blockSize) dtype=\(t.dtype.name) shape="
                + t.shape.dims.map(String.init).joined(separator: ",")
        }
        return (out, meta)
    }

    /// Rebuilds the quantized tensors that `lower` wrote.
    static func fold(_ model: Model) throws(SafetensorsError) -> Model {
        let keys = model.metadata.keys.filter { $0.hasPrefix(keyPrefix) }
        guard !keys.isEmpty else { return model }
        var replacements: [String: Tensor] = [:]
        var consumed = Set<String>()
        for key in keys {
            let name = String(key.dropFirst(keyPrefix.count))
            func invalid(_ r: String) -> SafetensorsError { .invalidEntry(tensor: name, reason: "quantized layout: \(r)") }
            var fields: [String: String] = [:]
            for word in model.metadata[key]!.split(separator: " ") {
                let kv = word.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
            }
            guard let storage = QuantizedStorage.allCases.first(where: { $0.name == fields["storage"] }),
                  let axisRaw = fields["axis"].flatMap({ Int($0) }), let block = fields["block"].flatMap({ Int($0) }),
                  let dtype = fields["dtype"].flatMap({ DType(name: $0) }), let shapeText = fields["shape"] else {
                throw invalid("unreadable description '\(model.metadata[key]!)'")
            }
            let dims = shapeText.isEmpty ? [] : shapeText.split(separator: ",").compactMap { Int($0) }
            guard let shape = try? Shape(dims), dims.count == (shapeText.isEmpty ? 0 : shapeText.split(separator: ",").count) else {
                throw invalid("bad shape '\(shapeText)'")
            }
            guard let q = model.tensor(named: name), let s = model.tensor(named: name + "_scale") else {
                throw invalid("missing '\(name)' or '\(name)_scale'")
            }
            let zp = model.tensor(named: name + "_zero_point")
            let params = QuantizationParameters(storage: storage, axis: axisRaw < 0 ? nil : axisRaw, blockSize: block,
                                                hasZeroPoint: zp != nil)
            guard let layout = try? QuantizedLayout(shape: shape, parameters: params),
                  q.data.count == layout.integerBytes, s.dtype == .f32, s.elementCount == layout.scaleCount,
                  zp == nil || zp!.data.count == (layout.scaleCount * storage.bits + 7) / 8 else {
                throw invalid("tensor sizes do not match the description")
            }
            guard let folded = ONNXQDQ.assemble(name: name, dtype: dtype, q: q, scale: s, zp: zp, layout: layout) else {
                throw invalid("cannot assemble")
            }
            replacements[name] = folded
            consumed.formUnion([name + "_scale", name + "_zero_point"])
        }
        var out = Model()
        for t in model.tensors where !consumed.contains(t.name) {
            do { try out.append(replacements[t.name] ?? t) } catch { throw .invalidEntry(tensor: t.name, reason: "\(error)") }
        }
        out.metadata = model.metadata.filter { !$0.key.hasPrefix(keyPrefix) }
        out.graph = model.graph
        return out
    }
}
