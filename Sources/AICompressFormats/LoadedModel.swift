import AICompressCore

/// A model read from a file, with facts about the file.
public struct LoadedModel: Sendable {
    /// The model read.
    public var model: Model
    /// The format it was read in.
    public var format: ModelFormat
    /// The input file (its mapping keeps zero-copy tensors valid).
    public var input: InputFile
    /// Format version, e.g. `1.0`.
    public var formatVersion: String
    /// CRC-32 of the whole input file (of an index and its shards in order, for a sharded set).
    public var fileCRC32: UInt32
    /// Bytes of every file read (shards and external data included).
    public var inputBytes: Int
    /// How many files were read (the input, its shards and external data files).
    public var inputFiles: Int
    /// Every file read, so that no output replaces one of them.
    public var identities: [FileIdentity]

    init(model: Model, format: ModelFormat, input: InputFile, formatVersion: String, fileCRC32: UInt32,
         others: [InputFile] = []) {
        self.model = model
        self.format = format
        self.input = input
        self.formatVersion = formatVersion
        self.fileCRC32 = fileCRC32
        self.inputBytes = ([input] + others).reduce(0) { $0 + $1.size }
        self.inputFiles = 1 + others.count
        self.identities = ([input] + others).compactMap(\.identity)
    }

    /// What provenance records about this input.
    public var facts: InputFacts { InputFacts(format: format.rawValue, bytes: inputBytes, crc32: fileCRC32) }

    /// The model with the provenance of spec §4.2 for an output written from this input.
    public func withProvenance(step: String) -> Model {
        var m = model
        Provenance.stamp(&m.metadata, input: facts, steps: [step])
        return m
    }
}
