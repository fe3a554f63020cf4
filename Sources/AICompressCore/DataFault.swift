/// What kind of failure an error is, so that the command line can map every library error to
/// its exit code in one place (the codes themselves are the CLI's business: sysexits.h values,
/// documented in the README).
public enum FaultKind: Sendable, Equatable {
    /// The request itself is wrong: a parameter out of range, a selection that matches nothing.
    case usage
    /// The data is wrong: a malformed file, a model that cannot be written in a format.
    case data
    /// An input file cannot be opened.
    case noInput
    /// An output file cannot be created (or would replace an input).
    case cannotCreate
    /// Reading or writing failed part way (I/O error, no space left).
    case io
}

/// An error with a one-line message and a fault kind. Every module's error enums adopt it (a
/// one-line conformance for the common case of data errors), so the CLI's exit-status mapping is
/// one arm and a new error type needs no new arm.
///
/// ```swift
/// public enum GGUFError: Error, Equatable, Sendable { case badMagic }
/// extension GGUFError: DataFault {
///     public var description: String { "not a GGUF file (bad magic at offset 0)" }
/// }
/// ```
public protocol DataFault: Error, CustomStringConvertible, Sendable {
    /// How the failure is classified (`.data` unless the type says otherwise).
    var faultKind: FaultKind { get }
}

extension DataFault {
    /// Most errors are about the data they were given.
    public var faultKind: FaultKind { .data }
}
