/// One parameter of a pass, declared once. Its `name` is the recipe key and the CLI long option
/// (`--name`); errors name it as written here. The declaration also gives its type, default,
/// range and help, and checks and parses values against them, so neither the CLI nor the
/// recipe reader checks ranges of its own.
///
/// ```swift
/// static let keep = PassParameter("keep", .number(0...1), help: "Fraction of weights to keep, 0...1.")
/// ```
public struct PassParameter: Sendable, Hashable {
    /// What values a parameter takes.
    public enum Kind: Sendable, Hashable {
        /// On or off; given means on (`--include-1d`, recipe `include-1d: true`).
        case flag
        /// A real number in a closed range (`--keep 0.3`).
        case number(ClosedRange<Double>)
        /// An integer in a closed range (`--group-size 64`).
        case integer(ClosedRange<Int>)
        /// One word of a fixed set (`--scope global`).
        case choice([String])
        /// One word of a fixed set, written as a flag per word (`--int8`, recipe `int8: true`).
        case flagPerChoice([String])
        /// Text the pass reads itself (`--pattern 2:4`, `--clip percentile:99.9`).
        case text
        /// Text that may be given several times (`--include a --include b`, recipe `[a, b]`).
        case list
    }

    /// Recipe key and CLI long option without `--`, kebab-case.
    public let name: String
    /// The values it takes.
    public let kind: Kind
    /// The value used when it is not given, as a user writes it (nil when there is none).
    public let defaultValue: String?
    /// One line of help (the CLI shows it; ArgumentParser adds values and default). It names
    /// other parameters in backquotes, as error reasons do (see `spell`).
    public let help: String

    /// Declares a parameter.
    public init(_ name: String, _ kind: Kind, default defaultValue: String? = nil, help: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
    }

    /// The recipe keys that set this parameter: its name, or each word of a flag-per-choice.
    public var keys: [String] {
        if case .flagPerChoice(let words) = kind { return words }
        return [name]
    }

    /// The error for `value` of this parameter; `reason` names parameters in backquotes.
    public func invalid(_ value: String, _ reason: String) -> PassError {
        .invalidParameter(name: name, value: value, reason: reason)
    }

    /// Checks a value against the declared type, range and choices.
    /// - Throws: `PassError.invalidParameter` naming this parameter.
    public func check(_ value: ParameterValue) throws {
        let shown = value.words.joined(separator: " ")
        switch (kind, value) {
        case (.flag, .flag), (.text, .text), (.list, .list): return
        case (.number(let range), .number(let x)):
            guard range.contains(x) else { throw invalid(shown, "`\(name)` " + Self.describe(range)) }
        case (.integer(let range), .integer(let x)):
            guard range.contains(x) else {
                throw invalid(shown, "`\(name)` " + Self.describe(Double(range.lowerBound)...Double(range.upperBound)))
            }
        case (.choice(let words), .text(let w)), (.flagPerChoice(let words), .text(let w)):
            guard words.contains(w) else { throw invalid(w, "`\(name)` must be one of \(words.joined(separator: ", ")) (got \(w))") }
        default:
            throw invalid(shown, "`\(name)` does not take \(value.kindName)")
        }
    }

    /// The value a recipe entry gives: `key` is one of `keys`, `words` its values (at least
    /// one unless `isFlag`), `isFlag` whether it was written `true`.
    /// - Throws: `PassError.invalidParameter` when the text does not fit the declaration.
    public func value(key: String, words: [String], isFlag: Bool) throws -> ParameterValue {
        let value: ParameterValue
        switch kind {
        case .flag:
            guard isFlag else { throw invalid(words.joined(separator: " "), "`\(name)` is a flag: true or false") }
            value = .flag
        case .flagPerChoice:
            guard isFlag else { throw invalid(words.joined(separator: " "), "`\(key)` is a flag: true or false") }
            value = .text(key)
        case .list:
            guard !isFlag else { throw invalid("true", "`\(name)` takes a value or a list of values") }
            value = .list(words)
        case .number, .integer, .choice, .text:
            // Of several values the last counts, as of a repeated option on the command line.
            guard !isFlag, let word = words.last else { throw invalid("true", "`\(name)` takes a value") }
            switch kind {
            case .number:
                guard let x = Double(word) else { throw invalid(word, "`\(name)` must be a number (got \(word))") }
                value = .number(x)
            case .integer:
                guard let x = Int(word) else { throw invalid(word, "`\(name)` must be an integer (got \(word))") }
                value = .integer(x)
            default: value = .text(word)
            }
        }
        try check(value)
        return value
    }

    /// `must be between 0 and 1`, `must be at least 1`.
    static func describe(_ range: ClosedRange<Double>) -> String {
        func word(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)" }
        let open = Double(Int.max)
        switch (range.lowerBound <= -open, range.upperBound >= open) {
        case (false, true): return "must be at least \(word(range.lowerBound))"
        case (true, false): return "must be at most \(word(range.upperBound))"
        default: return "must be between \(word(range.lowerBound)) and \(word(range.upperBound))"
        }
    }
}

extension PassParameter {
    /// `text` with each backquoted parameter name (lowercase letters, digits and dashes, e.g.
    /// `` `keep` ``) written by `spelling`: bare for a library or recipe user, `--keep` on
    /// the command line. Other backquotes are left as they are.
    public static func spell(_ text: String, _ spelling: (String) -> String) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "`") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "`"),
                  case let word = after[..<close], !word.isEmpty,
                  word.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" }) else {
                out += rest[...open]
                rest = after
                continue
            }
            out += rest[..<open] + spelling(String(word))
            rest = after[after.index(after: close)...]
        }
        return out + rest
    }
}

extension Array where Element == PassParameter {
    /// The parameter a recipe key sets (by name, or by a word of a flag-per-choice).
    public func parameter(forKey key: String) -> PassParameter? {
        first { $0.keys.contains(key) }
    }
}
