import AICompressCore

/// A file format aicompress reads and writes: a small value naming one registered
/// `ModelFormatHandler` (the CLI's `--format` argument, `LoadedModel.format`). Formats compare
/// by id; `ModelFormat(rawValue:)` and `allCases` look in `FormatRegistry`.
public struct ModelFormat: Sendable, Hashable, CaseIterable, RawRepresentable, CustomStringConvertible {
    /// What reads and writes this format.
    public let handler: any ModelFormatHandler

    /// A format for `handler` (each format declares one, e.g. `ModelFormat.checkpoint`).
    public init(_ handler: any ModelFormatHandler) { self.handler = handler }

    /// The registered format with id `rawValue`, if any.
    public init?(rawValue: String) {
        guard let f = FormatRegistry.formats.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = f
    }

    /// The format's id (`ckpt`, `onnx`, `safetensors`).
    public var rawValue: String { handler.id }
    /// The format's id.
    public var description: String { rawValue }
    /// Every registered format, in registry order.
    public static var allCases: [ModelFormat] { FormatRegistry.formats }

    /// Formats are equal when their ids are.
    public static func == (a: ModelFormat, b: ModelFormat) -> Bool { a.rawValue == b.rawValue }
    /// Hashes the id.
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    /// The format a file name's extension names, if any.
    public static func fromExtension(of path: String) -> ModelFormat? {
        // The last extension, if the last dot is in the file name (not in a folder name).
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return nil }
        let last = "." + path[path.index(after: dot)...].lowercased()
        return FormatRegistry.formats.first { format in
            format.handler.extensions.contains { e in
                e.dropFirst().contains(".") ? path.hasSuffix(e) : e == last
            }
        }
    }

    /// The format the first bytes of a file identify, if any (the first in registry order).
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> ModelFormat? {
        FormatRegistry.formats.first { $0.handler.sniff(bytes) }
    }
}
