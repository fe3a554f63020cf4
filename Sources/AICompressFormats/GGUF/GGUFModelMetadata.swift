import AICompressCore

/// How GGUF metadata pairs live in a `Model`'s string metadata, losslessly:
///
/// - `gguf.kv`: every pair except our own `aicompress.*` strings, typed and in file order, as
///   `GGUFWriter.encodeMetadata` bytes in base64 (so tokenizer arrays, the chat template and the
///   architecture keys survive .ckpt and back bit for bit);
/// - `aicompress.*` string pairs: plain model metadata, so provenance appends to them;
/// - `gguf.file_type`: set by `quantize --gguf` (a `llama_ftype` number); the writer puts it in
///   `general.file_type`.
///
/// Writing, the pairs of `gguf.kv` come first in their order, `general.file_type` and
/// `general.quantization_version` replaced in place (or appended) as llama-quantize does, then
/// every other model metadata key, sorted, as a string pair.
public enum GGUFModelMetadata {
    /// The model metadata key holding the typed pairs.
    public static let kvKey = "gguf.kv"
    /// The model metadata key a quantizer sets to the output's `llama_ftype`.
    public static let fileTypeKey = "gguf.file_type"
    /// ggml's `GGML_QNT_VERSION`, written as `general.quantization_version` into quantized files.
    public static let quantizationVersion: UInt32 = 2

    /// Model metadata for a file's pairs.
    static func modelMetadata(_ pairs: [GGUFKeyValue]) -> [String: String] {
        var out = [String: String](), kept = [GGUFKeyValue]()
        for kv in pairs {
            if kv.key.hasPrefix("aicompress."), case .string(let s) = kv.value, let text = s.string {
                out[kv.key] = text
            } else {
                kept.append(kv)
            }
        }
        if !kept.isEmpty { out[kvKey] = Base64.encode(GGUFWriter.encodeMetadata(kept)) }
        return out
    }

    /// The typed pairs stored in model metadata (empty without `gguf.kv`).
    /// - Throws: `GGUFError.unrepresentable` when `gguf.kv` is not valid base64 of encoded pairs.
    public static func pairs(_ metadata: [String: String]) throws(GGUFError) -> [GGUFKeyValue] {
        guard let text = metadata[kvKey] else { return [] }
        guard let bytes = Base64.decode(text) else { throw .unrepresentable("metadata '\(kvKey)' is not base64") }
        do {
            return try bytes.withUnsafeBytes { raw throws(GGUFError) in try GGUFReader.decodeMetadata(raw) }
        } catch {
            throw .unrepresentable("metadata '\(kvKey)' does not hold GGUF pairs: \(error)")
        }
    }

    /// The pairs a GGUF file of `tensors` with model `metadata` carries.
    /// - Throws: `GGUFError.unrepresentable` for a bad `gguf.kv` or `gguf.file_type`.
    static func filePairs(_ metadata: [String: String], types: [GGMLType]) throws(GGUFError) -> [GGUFKeyValue] {
        // The split keys describe files, not the model; a split writer sets its own.
        var pairs = try pairs(metadata).filter { !GGUFSplit.keys.contains($0.key) }
        func set(_ key: String, _ value: GGUFValue) {
            if let i = pairs.firstIndex(where: { $0.key == key }) { pairs[i] = GGUFKeyValue(key, value) } else {
                pairs.append(GGUFKeyValue(key, value))
            }
        }
        let quantized = types.contains { $0.isQuantized }
        if let text = metadata[fileTypeKey] {
            guard let ftype = UInt32(text) else { throw .unrepresentable("metadata '\(fileTypeKey)' is '\(text)', not a llama_ftype number") }
            if quantized { set("general.quantization_version", .uint32(quantizationVersion)) }
            set("general.file_type", .uint32(ftype))
        } else if quantized, !pairs.contains(where: { $0.key == "general.file_type" }) {
            set("general.quantization_version", .uint32(quantizationVersion))
            if let ftype = guessedFileType(types) { set("general.file_type", .uint32(ftype)) }
        }
        let taken = Set(pairs.map(\.key))
        for key in metadata.keys.sorted() where key != kvKey && key != fileTypeKey && !taken.contains(key) {
            pairs.append(GGUFKeyValue(key, .text(metadata[key] ?? "")))
        }
        return pairs
    }

    /// The `llama_ftype` of a file whose block tensors are mostly `types`' commonest block type
    /// (for a model quantized elsewhere that says nothing; `quantize --gguf` says exactly).
    static func guessedFileType(_ types: [GGMLType]) -> UInt32? {
        var counts = [GGMLType: Int]()
        for t in types where t.isQuantized { counts[t, default: 0] += 1 }
        guard let top = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue) })?.key else { return nil }
        return fileTypeIDs[top]
    }

    /// `llama_ftype` of a file mostly of one block type (llama.h; the K types as their _M mix).
    static let fileTypeIDs: [GGMLType: UInt32] = [
        .q4_0: 2, .q4_1: 3, .q8_0: 7, .q5_0: 8, .q5_1: 9, .q2_K: 10, .q3_K: 12, .q4_K: 15, .q5_K: 17, .q6_K: 18,
        .iq4_NL: 25, .iq4_XS: 30,
    ]
}
