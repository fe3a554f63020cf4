import AICompressCore

/// Writes safetensors: the JSON header (`__metadata__` first, then the tensors in model order,
/// compact, padded with spaces to a multiple of 8 so every tensor stays aligned), then the
/// tensor bytes streamed in the same order. Deterministic.
public enum SafetensorsWriter {
    /// The header bytes (length prefix included) for `tensors` and `metadata`.
    static func header(tensors: [Tensor], metadata: [String: String]) throws(SafetensorsError) -> [UInt8] {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += JSONWriter.quote("__metadata__") + ":{"
            json += metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                .map { JSONWriter.quote($0.key) + ":" + JSONWriter.quote($0.value) }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for t in tensors {
            guard t.encoding == .dense else { throw .unrepresentable("tensor '\(t.name)' is not dense") }
            guard let dtype = SafetensorsLayout.name(of: t.dtype) else {
                throw .unrepresentable("tensor '\(t.name)' has dtype \(t.dtype), which safetensors has no name for")
            }
            guard t.name != "__metadata__" else { throw .unrepresentable("a tensor is named '__metadata__'") }
            if !first { json += "," }
            first = false
            json += JSONWriter.quote(t.name) + ":{\"dtype\":\"\(dtype)\",\"shape\":["
                + t.shape.dims.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(offset + t.data.count)]}"
            offset += t.data.count
        }
        json += "}"
        var body = Array(json.utf8)
        while body.count % 8 != 0 { body.append(0x20) }
        guard body.count <= SafetensorsLayout.maxHeaderBytes else {
            throw .unrepresentable("the header would be \(body.count) bytes, over the limit of \(SafetensorsLayout.maxHeaderBytes)")
        }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(body.count).littleEndian) { out.append(contentsOf: $0) }
        return out + body
    }

    /// Writes `tensors` with `metadata` to `sink`; quantized tensors are written in the layout
    /// of `SafetensorsQuantization`.
    public static func write<S: ByteSink>(tensors: [Tensor], metadata: [String: String], to sink: inout S) throws {
        let (plain, meta) = try SafetensorsQuantization.lower(tensors, metadata: metadata)
        try sink.write(try header(tensors: plain, metadata: meta))
        for t in plain { try sink.write(t.data) }
    }
}
