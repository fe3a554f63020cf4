/// A value of a pass parameter, typed by its declaration's kind.
public enum ParameterValue: Sendable, Equatable {
    /// A flag that is on.
    case flag
    /// A `number` parameter's value.
    case number(Double)
    /// An `integer` parameter's value.
    case integer(Int)
    /// The word or text of a `choice`, `flagPerChoice` or `text` parameter.
    case text(String)
    /// The values of a `list` parameter.
    case list([String])

    /// The value as a user writes it (nothing for a flag); numbers as Swift prints them.
    public var words: [String] {
        switch self {
        case .flag: return []
        case .number(let x): return ["\(x)"]
        case .integer(let x): return ["\(x)"]
        case .text(let s): return [s]
        case .list(let l): return l
        }
    }

    /// The value as one provenance word: `true` for a flag, list items joined with commas.
    public var provenanceWord: String {
        self == .flag ? "true" : words.joined(separator: ",")
    }

    var kindName: String {
        switch self {
        case .flag: return "a flag"
        case .number: return "a number"
        case .integer: return "an integer"
        case .text: return "text"
        case .list: return "a list"
        }
    }
}

/// Parameter values by declared parameter: what a recipe step or a command line gives a pass,
/// and what a pass gives back to be recorded (`ConfigurablePass.parameterValues`).
///
/// ```swift
/// var values = PassParameters()
/// values[Prune.Parameter.keep] = .number(0.3)
/// let pass = try Prune(parameters: values)
/// ```
public struct PassParameters: Sendable, Equatable {
    private var values: [String: ParameterValue] = [:]

    /// No value given.
    public init() {}

    /// The value given for `parameter`, or nil.
    public subscript(_ parameter: PassParameter) -> ParameterValue? {
        get { values[parameter.name] }
        set { values[parameter.name] = newValue }
    }

    /// A `number` parameter's value.
    public func number(_ p: PassParameter) -> Double? {
        if case .number(let x)? = self[p] { return x }
        return nil
    }

    /// An `integer` parameter's value.
    public func integer(_ p: PassParameter) -> Int? {
        if case .integer(let x)? = self[p] { return x }
        return nil
    }

    /// A `choice`, `flagPerChoice` or `text` parameter's value.
    public func text(_ p: PassParameter) -> String? {
        if case .text(let s)? = self[p] { return s }
        return nil
    }

    /// A `list` parameter's values (empty when not given).
    public func list(_ p: PassParameter) -> [String] {
        if case .list(let l)? = self[p] { return l }
        return []
    }

    /// Whether a flag is on.
    public func flag(_ p: PassParameter) -> Bool { self[p] == .flag }

    /// The given values in the order of `declaration`.
    public func entries(in declaration: [PassParameter]) -> [(parameter: PassParameter, value: ParameterValue)] {
        declaration.compactMap { p in self[p].map { (p, $0) } }
    }

    /// `name=value` provenance words of the given values, in the order of `declaration`.
    public func provenanceWords(in declaration: [PassParameter]) -> [(String, String)] {
        entries(in: declaration).map { ($0.parameter.name, $0.value.provenanceWord) }
    }

    /// Checks every given value of `declaration` against its parameter.
    /// - Throws: `PassError.invalidParameter` for the first value out of its type or range.
    public func check(_ declaration: [PassParameter]) throws {
        for (p, v) in entries(in: declaration) { try p.check(v) }
    }
}
