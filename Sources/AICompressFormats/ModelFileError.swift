import AICompressCore

/// A failure while reading or writing a particular file: the file's path and what went wrong.
public struct ModelFileError: Error, CustomStringConvertible {
    /// What went wrong with the file.
    public enum Kind: Sendable {
        /// The file is not in any format aicompress reads.
        case unknownFormat
        /// The output's extension names no format aicompress writes, and no format was given.
        case unknownOutputFormat
        /// The file (or stream) has no bytes at all.
        case empty
        /// The content is invalid for its format.
        case invalid(any Error & Sendable)
        /// The output cannot be written in the requested format.
        case unrepresentable(any Error & Sendable)
    }
    /// The file's path (`-` for a standard stream).
    public let path: String
    /// What went wrong.
    public let kind: Kind

    /// An error about the file at `path`.
    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    /// True when the file is an output being written.
    public var isOutput: Bool {
        switch kind {
        case .unrepresentable, .unknownOutputFormat: return true
        case .unknownFormat, .empty, .invalid: return false
        }
    }

    /// The message, naming the file first.
    public var description: String {
        let name = path == "-" ? (isOutput ? "<stdout>" : "<stdin>") : path
        switch kind {
        case .empty:
            return "\(name): empty input, no model to read"
        case .unknownFormat:
            return "\(name): unknown file format (aicompress reads \(FormatRegistry.extensionList))"
        case .unknownOutputFormat:
            return "\(name): no output format has this extension (aicompress writes \(FormatRegistry.extensionList)); "
                + "say which with --format (\(FormatRegistry.idList))"
        case .invalid(let e): return "\(name): \(e)"
        case .unrepresentable(let e): return "\(name): \(e)"
        }
    }
}

extension ModelFileError: DataFault {
    /// An output format nobody named is the request's fault; everything else is the data's.
    public var faultKind: FaultKind {
        if case .unknownOutputFormat = kind { return .usage }
        return .data
    }
}
