import AICompressCore

/// The file formats aicompress reads and writes.
public enum ModelFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The native checkpoint format (spec/checkpoint-format.md).
    case checkpoint = "ckpt"
    /// ONNX protobuf (spec/onnx.proto), with optional external data.
    case onnx
    /// safetensors, single files and sharded sets (`*.safetensors.index.json`).
    case safetensors

    public var description: String { rawValue }

    /// The format a file name's extension names, if any.
    public static func fromExtension(of path: String) -> ModelFormat? {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return nil }
        switch path[path.index(after: dot)...].lowercased() {
        case "ckpt": return .checkpoint
        case "onnx": return .onnx
        case "safetensors": return .safetensors
        case "json" where path.hasSuffix(".safetensors.index.json"): return .safetensors
        default: return nil
        }
    }

    /// The format the first bytes of a file identify, if any.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> ModelFormat? {
        if CheckpointReader.hasMagic(bytes) { return .checkpoint }
        if ONNXReader.looksLikeONNX(bytes) { return .onnx }
        if SafetensorsReader.looksLikeSafetensors(bytes) { return .safetensors }
        return nil
    }
}

/// A failure while reading or writing a particular file: the file's path and what went wrong.
public struct ModelFileError: Error, CustomStringConvertible {
    public enum Kind: Sendable {
        /// The file is not in any format aicompress reads.
        case unknownFormat
        /// The file (or stream) has no bytes at all.
        case empty
        /// The content is invalid for its format.
        case invalid(any Error & Sendable)
        /// The output cannot be written in the requested format.
        case unrepresentable(any Error & Sendable)
    }
    public let path: String
    public let kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    /// True when the file is an output being written.
    public var isOutput: Bool {
        if case .unrepresentable = kind { return true }
        return false
    }

    public var description: String {
        let name = path == "-" ? (isOutput ? "<stdout>" : "<stdin>") : path
        switch kind {
        case .empty:
            return "\(name): empty input, no model to read"
        case .unknownFormat:
            return "\(name): unknown file format (aicompress reads .ckpt, .onnx and .safetensors)"
        case .invalid(let e): return "\(name): \(e)"
        case .unrepresentable(let e): return "\(name): \(e)"
        }
    }
}

/// A model read from a file, with facts about the file.
public struct LoadedModel: Sendable {
    public var model: Model
    public var format: ModelFormat
    /// The input file (its mapping keeps zero-copy tensors valid).
    public var input: InputFile
    /// Format version, e.g. `1.0`.
    public var formatVersion: String
    /// CRC-32 of the whole input file (of an index and its shards in order, for a sharded set).
    public var fileCRC32: UInt32
    /// Bytes of every file read (shards and external data included).
    public var inputBytes: Int
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

/// 8 lower-case hex digits.
public func hex8(_ v: UInt32) -> String { Provenance.hex(v) }

/// Reads and writes models in any supported format, choosing the format by magic bytes on input
/// and by extension (or an explicit choice) on output. The one entry point the CLI uses.
public enum ModelIO {
    /// Reads the model at `path` (`-` for standard input).
    /// - Throws: `FileError` or `ModelFileError`.
    public static func read(path: String) throws -> LoadedModel {
        let input = try InputFile(path: path)
        guard input.size > 0 else { throw ModelFileError(path: path, kind: .empty) }
        // Content decides; a file named .ckpt that does not look like one gets the checkpoint
        // reader's own, more specific error (bad magic, truncated).
        let format = ModelFormat.sniff(input.buffer.bytes) ?? ModelFormat.fromExtension(of: path)
        switch format {
        case .checkpoint:
            do {
                let (model, info) = try CheckpointReader.read(input.buffer)
                return LoadedModel(model: model, format: .checkpoint, input: input,
                                   formatVersion: "\(info.majorVersion).\(info.minorVersion)", fileCRC32: info.fileCRC32)
            } catch {
                throw ModelFileError(path: path, kind: .invalid(error))
            }
        case .onnx:
            do {
                let (model, info) = try ONNXReader.read(input)
                let opset = info.opsets.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }?.version
                let version = "IR \(info.irVersion.map(String.init) ?? "?")" + (opset.map { ", opset \($0)" } ?? "")
                return LoadedModel(model: model, format: .onnx, input: input, formatVersion: version,
                                   fileCRC32: CRC32.checksums([input.buffer.bytes])[0], others: info.externalFiles)
            } catch let e as ONNXError {
                throw ModelFileError(path: path, kind: .invalid(e))
            }
        case .safetensors:
            // An index, or one shard of a set whose index names it, reads the whole set.
            let indexPath = path.hasSuffix(".json") ? path : (path == "-" ? nil : ShardedSafetensors.indexNaming(shard: path))
            if let indexPath {
                do {
                    let (model, files, crc) = try ShardedSafetensors.read(indexPath: indexPath)
                    return LoadedModel(model: model, format: .safetensors, input: input, formatVersion: "sharded, \(files.count - 1) files",
                                       fileCRC32: crc, others: files.filter { $0.identity != input.identity || $0.identity == nil })
                } catch let e as SafetensorsError {
                    throw ModelFileError(path: indexPath, kind: .invalid(e))
                }
            }
            do {
                let (model, crc) = try SafetensorsReader.read(input.buffer)
                return LoadedModel(model: model, format: .safetensors, input: input, formatVersion: "single file", fileCRC32: crc)
            } catch {
                throw ModelFileError(path: path, kind: .invalid(error))
            }
        case nil:
            throw ModelFileError(path: path, kind: .unknownFormat)
        }
    }

    /// Refuses an output path that names one of the input files.
    /// - Throws: `FileError.outputIsInput`.
    public static func checkNotInput(_ path: String, _ inputs: [FileIdentity]) throws {
        if path != "-", let id = FileIdentity(path: path), inputs.contains(id) { throw FileError.outputIsInput(path: path) }
    }

    /// The output format for `path`: `explicit`, else the extension, else (for `-` or an unknown
    /// extension) the native checkpoint.
    public static func outputFormat(path: String, explicit: ModelFormat?) -> ModelFormat {
        explicit ?? ModelFormat.fromExtension(of: path) ?? .checkpoint
    }

    /// Writes `model` to `path` atomically (`-` streams to standard output).
    /// - Parameters:
    ///   - refusing: the identity of the input, so that it is never replaced.
    ///   - durable: `fsync` the file before moving it into place.
    ///   - onnx: options for ONNX output; external data goes to `<path>.data`.
    /// - Throws: `FileError` or `ModelFileError`; no partial output is left behind.
    public static func write(
        _ model: Model, to path: String, format: ModelFormat, refusing inputs: [FileIdentity] = [], durable: Bool = false,
        onnx: ONNXWriteOptions = ONNXWriteOptions(), shardSize: Int? = nil, progress: ((Int) -> Void)? = nil
    ) throws {
        func refuse(_ p: String) throws { try checkNotInput(p, inputs) }
        try refuse(path)
        if format == .safetensors, let shardSize {
            try writeShards(model, to: path, maxBytes: shardSize, durable: durable, refuse: refuse)
            return
        }
        var side: OutputFile? = nil
        if format == .onnx && onnx.externalData {
            guard path != "-" else {
                throw ModelFileError(path: path, kind: .unrepresentable(ONNXError.unrepresentable(
                    "external data needs a file name, not standard output")))
            }
            side = try OutputFile(path: path + ".data", durable: durable)
        }
        let out = try OutputFile(path: path, durable: durable)
        out.onWrite = progress
        if let progress { side?.onWrite = { progress($0 + out.bytesWritten) } }
        do {
            switch format {
            case .checkpoint:
                _ = try CheckpointWriter.write(model, to: out)
            case .safetensors:
                var sink = out
                try SafetensorsWriter.write(tensors: model.tensors, metadata: model.metadata, to: &sink)
            case .onnx:
                var sink = out
                let location = path.split(separator: "/").last.map(String.init).map { $0 + ".data" }
                try ONNXWriter.write(model, to: &sink, options: onnx, external: &side, externalLocation: location)
            }
            // The data file goes into place before the model that refers to it; when no tensor
            // was large enough to go there, there is no data file.
            if let side { if side.bytesWritten > 0 { try side.commit() } else { side.abort() } }
            try out.commit()
        } catch let e as CheckpointError {
            out.abort()
            side?.abort()
            throw ModelFileError(path: path, kind: .unrepresentable(e))
        } catch let e as ONNXError {
            out.abort()
            side?.abort()
            throw ModelFileError(path: path, kind: .unrepresentable(e))
        } catch let e as SafetensorsError {
            out.abort()
            side?.abort()
            throw ModelFileError(path: path, kind: .unrepresentable(e))
        } catch {
            out.abort()
            side?.abort()
            throw error
        }
    }

    /// Writes a sharded safetensors set: shards of at most `maxBytes`, then the index, each file
    /// atomically; the index goes into place last. A model that fits in one shard is written as
    /// a single file at `path`.
    static func writeShards(
        _ model: Model, to path: String, maxBytes: Int, durable: Bool, refuse: (String) throws -> Void
    ) throws {
        let groups = ShardedSafetensors.plan(model.tensors, maxBytes: maxBytes)
        guard groups.count > 1 else {
            try write(model, to: path, format: .safetensors, durable: durable)
            return
        }
        guard path != "-" else {
            throw ModelFileError(path: path, kind: .unrepresentable(SafetensorsError.unrepresentable(
                "a sharded set needs a file name, not standard output")))
        }
        let (names, indexPath) = ShardedSafetensors.names(for: path, count: groups.count)
        for p in names + [indexPath] { try refuse(p) }
        var outputs: [OutputFile] = []
        do {
            for (i, group) in groups.enumerated() {
                let out = try OutputFile(path: names[i], durable: durable)
                outputs.append(out)
                var sink = out
                try SafetensorsWriter.write(tensors: group, metadata: model.metadata, to: &sink)
            }
            var index = try OutputFile(path: indexPath, durable: durable)
            outputs.append(index)
            try index.write(ShardedSafetensors.indexJSON(shards: groups, shardNames: names))
            for out in outputs { try out.commit() }
        } catch let e as SafetensorsError {
            outputs.forEach { $0.abort() }
            throw ModelFileError(path: path, kind: .unrepresentable(e))
        } catch {
            outputs.forEach { $0.abort() }
            throw error
        }
    }
}
