import AICompressCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Failures of opening, mapping, reading or writing files.
public enum FileError: Error, Equatable, Sendable {
    case cannotOpen(path: String, errno: Int32)
    case notARegularFile(path: String)
    /// A folder given as a model that names no one model file (the model files it holds, sorted).
    case folderWithoutModel(path: String, modelFiles: [String])
    case cannotMap(path: String, errno: Int32)
    case readFailed(path: String, errno: Int32)
    case cannotCreate(path: String, errno: Int32)
    case writeFailed(path: String, errno: Int32)
    case cannotRename(from: String, to: String, errno: Int32)
    /// The output would replace the input file.
    case outputIsInput(path: String)

    /// The path the error is about.
    public var path: String {
        switch self {
        case .cannotOpen(let p, _), .notARegularFile(let p), .folderWithoutModel(let p, _), .cannotMap(let p, _), .readFailed(let p, _),
             .cannotCreate(let p, _), .writeFailed(let p, _), .outputIsInput(let p):
            return p
        case .cannotRename(_, let to, _):
            return to
        }
    }

    /// True for failures to read an input (as opposed to producing an output).
    public var isInputError: Bool {
        switch self {
        case .cannotOpen, .notARegularFile, .folderWithoutModel, .cannotMap, .readFailed: return true
        default: return false
        }
    }
}

extension FileError: CustomStringConvertible {
    public var description: String {
        func reason(_ e: Int32) -> String { String(cString: strerror(e)) }
        func display(_ p: String) -> String { p == "-" ? (isInputError ? "<stdin>" : "<stdout>") : p }
        switch self {
        case .cannotOpen(let p, let e): return "\(display(p)): cannot open: \(reason(e))"
        case .notARegularFile(let p): return "\(display(p)): not a regular file"
        case .folderWithoutModel(let p, let files):
            let found = files.isEmpty ? "no model file"
                : "\(files.count) model files (\(files.prefix(3).joined(separator: ", "))\(files.count > 3 ? ", …" : ""))"
            return "\(p): a folder without model.safetensors or model.safetensors.index.json, and \(found): name the model file"
        case .cannotMap(let p, let e): return "\(display(p)): cannot map into memory: \(reason(e))"
        case .readFailed(let p, let e): return "\(display(p)): read failed: \(reason(e))"
        case .cannotCreate(let p, let e): return "\(display(p)): cannot create output: \(reason(e))"
        case .writeFailed(let p, let e): return "\(display(p)): write failed: \(reason(e))"
        case .cannotRename(_, let to, let e): return "\(display(to)): cannot move the finished output into place: \(reason(e))"
        case .outputIsInput(let p): return "\(display(p)): output is the input file; aicompress never overwrites its input"
        }
    }
}

extension FileError: DataFault {
    /// Opening an input, creating an output and I/O part way each have their own exit code.
    public var faultKind: FaultKind {
        switch self {
        case .cannotOpen, .notARegularFile, .folderWithoutModel: return .noInput
        case .cannotMap, .readFailed, .writeFailed, .cannotRename: return .io
        case .cannotCreate, .outputIsInput: return .cannotCreate
        }
    }
}

/// How an input path is shown in messages: `-` is standard input.
func display(_ path: String) -> String { path == "-" ? "<stdin>" : path }
