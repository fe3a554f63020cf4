import AICompressCore

/// One file format: how it is recognised, read and written. Each format conforms once (in its
/// own folder) and is listed once in `FormatRegistry`; `ModelIO`, `ModelWriteSession` and the
/// CLI look everything up from there.
///
/// ```swift
/// struct GGUFFormat: ModelFormatHandler {
///     let id = "gguf"
///     let extensions = [".gguf"]
///     func sniff(_ bytes: UnsafeRawBufferPointer) -> Bool { bytes.starts(with: Array("GGUF".utf8)) }
///     func read(_ input: InputFile, sideFiles: any SideFileResolver) throws -> FormatReading { … }
///     func makeWriter(_ request: WriteRequest) throws -> any FormatWriter { … }
/// }
/// extension ModelFormat { static let gguf = ModelFormat(GGUFFormat()) }
/// ```
public protocol ModelFormatHandler: Sendable {
    /// The `--format` value and the id recorded in provenance (`ckpt`, `onnx`, `safetensors`).
    var id: String { get }
    /// File name endings with their dot, the usual one first (`.safetensors`, then the compound
    /// `.safetensors.index.json`). A one-dot ending matches whatever its case; a compound one
    /// matches as written.
    var extensions: [String] { get }
    /// True when the first bytes of a file are this format's (magic bytes, a header shape).
    func sniff(_ bytes: UnsafeRawBufferPointer) -> Bool
    /// Reads the model in `input`; files it names beside itself (external data, shards) come
    /// through `sideFiles`, which keeps them inside the model's folder.
    /// - Throws: the format's `FormatError`, a `FileError` for a side file, or a
    ///   `ModelFileError` that already names the file at fault.
    func read(_ input: InputFile, sideFiles: any SideFileResolver) throws -> FormatReading
    /// Opens an output. The writer takes tensors one at a time and says whether it `streams`.
    /// - Throws: the format's `FormatError`, or `FileError`.
    func makeWriter(_ request: WriteRequest) throws -> any FormatWriter
    /// The tensor bytes `tensor` takes in a file written with `options` (what reports give as
    /// the size after a pass): a format without sparse storage stores the zeros densely, one
    /// that lowers quantized tensors stores the pieces it lowers them to.
    func storedBytes(of tensor: Tensor, options: ModelWriteOptions) -> Int
}

extension ModelFormatHandler {
    /// By default a format stores a tensor as plain dense values.
    public func storedBytes(of tensor: Tensor, options: ModelWriteOptions) -> Int { tensor.denseBytes }
}

extension ModelFormatHandler {
    /// How a format without sparse storage (ONNX, safetensors) keeps a tensor it was handed:
    /// sparse ones dense and sparse + quantized ones as plain quantized tensors, as its writer
    /// would expand them, everything else as it is.
    static func storedForm(_ t: Tensor) throws -> Tensor {
        switch t.encoding {
        case .sparse: return try t.densified()
        case .sparseQuantized: return try t.expandedQuantized()
        default: return t
        }
    }
}

/// The error enum of one format's reader and writer. `ModelIO` wraps these (and only these) in a
/// `ModelFileError` that names the file; every other error passes through as it is.
public protocol FormatError: DataFault {}

/// What a format reader produces: the model and the facts about its files.
public struct FormatReading: Sendable {
    /// The model read.
    public var model: Model
    /// The format version, as `inspect` shows it (`1.0`, `IR 8, opset 17`, `single file`).
    public var formatVersion: String
    /// CRC-32 of the input file (of an index and its shards in order, for a sharded set).
    public var fileCRC32: UInt32
    /// Every other file read (external data, shards), so that their bytes are counted and no
    /// output replaces one of them.
    public var sideFiles: [InputFile]

    /// A reading with the facts given.
    public init(model: Model, formatVersion: String, fileCRC32: UInt32, sideFiles: [InputFile] = []) {
        self.model = model
        self.formatVersion = formatVersion
        self.fileCRC32 = fileCRC32
        self.sideFiles = sideFiles
    }
}

/// Where and how a format writer writes.
public struct WriteRequest {
    /// The output path (`-` for standard output).
    public var path: String
    /// Files that must not be replaced (the inputs).
    public var refusing: [FileIdentity]
    /// Durability and the format-specific options (ONNX external data, safetensors shards).
    public var options: ModelWriteOptions
    /// Called with the bytes written so far.
    public var progress: ((Int) -> Void)?

    /// A request to write `path`.
    public init(path: String, refusing: [FileIdentity] = [], options: ModelWriteOptions = ModelWriteOptions(),
                progress: ((Int) -> Void)? = nil) {
        self.path = path
        self.refusing = refusing
        self.options = options
        self.progress = progress
    }
}

/// An output being written in one format: tensors one at a time (`ModelSink`), then `finish`,
/// then `commit` moves every file into place, or `abort` removes every trace of them. A writer
/// that `streams` writes each tensor as it arrives; one that does not holds the tensors until
/// `finish`, because its format needs every size before the first byte.
public protocol FormatWriter: ModelSink {
    /// Moves the finished output files into place.
    func commit() throws
    /// Removes the unfinished output files; safe to call more than once.
    func abort()
}
