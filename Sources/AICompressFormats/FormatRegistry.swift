/// Every format aicompress reads and writes, in sniffing order: one line per format. The
/// `--format` values, the extension and content lookups and the help and error texts all come
/// from this list.
public enum FormatRegistry {
    /// The registered formats.
    public static let formats: [ModelFormat] = [
        .checkpoint,
        .onnx,
        .safetensors,
        .gguf,
    ]

    /// The `--format` values, comma-separated (`ckpt, onnx, safetensors`).
    public static var idList: String { formats.map(\.rawValue).joined(separator: ", ") }

    /// The usual extension of each format, as a sentence (`.ckpt, .onnx and .safetensors`).
    public static var extensionList: String {
        let names = formats.compactMap(\.handler.extensions.first)
        guard let last = names.last else { return "" }
        return names.count == 1 ? last : names.dropLast().joined(separator: ", ") + " and " + last
    }
}
