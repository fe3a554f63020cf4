/// Facts about the file a model was read from, recorded in the provenance of every output
/// written from it (spec/checkpoint-format.md §4.2).
public struct InputFacts: Sendable, Equatable {
    /// The input's format id (`ckpt`, `onnx`, `safetensors`).
    public var format: String
    /// Bytes of every file read (shards and external data included).
    public var bytes: Int
    /// CRC-32 of the input file (of an index and its shards in order, for a sharded set).
    public var crc32: UInt32

    public init(format: String, bytes: Int, crc32: UInt32) {
        self.format = format
        self.bytes = bytes
        self.crc32 = crc32
    }
}

/// The one writer of provenance keys (`aicompress.version`, `aicompress.input.*`,
/// `aicompress.step.NNN`). Every command and library entry point that produces a model goes
/// through here, so the keys and their spelling live in one place.
public enum Provenance {
    /// Key of the tool version.
    public static let versionKey = "aicompress.version"

    /// Stamps `metadata` with the tool version and, when the model came from a file, the input's
    /// format, size and CRC-32; then appends `steps` as `aicompress.step.NNN` entries after the
    /// existing ones. The first step carries the input's CRC-32 (`input.crc32=…`), so a chain of
    /// files can be followed back step by step.
    public static func stamp(_ metadata: inout [String: String], input: InputFacts?, steps: [String],
                             extra: [(String, String)] = []) {
        metadata[versionKey] = AICompressVersion.string
        if let input {
            metadata["aicompress.input.format"] = input.format
            metadata["aicompress.input.bytes"] = String(input.bytes)
            metadata["aicompress.input.crc32"] = hex(input.crc32)
        }
        for (k, v) in extra { metadata[k] = v }
        for (i, step) in steps.enumerated() {
            let s = i == 0 && input != nil ? step + " input.crc32=" + hex(input!.crc32) : step
            appendStep(&metadata, s)
        }
    }

    /// Appends one provenance step after the existing ones.
    public static func appendStep(_ metadata: inout [String: String], _ description: String) {
        var n = 0
        while metadata[Model.stepKey(n)] != nil { n += 1 }
        metadata[Model.stepKey(n)] = description
    }

    /// 8 lower-case hex digits, as CRC-32s are written everywhere.
    public static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}
