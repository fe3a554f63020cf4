extension Quantize {
    /// The quantization parameters, declared once (recipe keys, CLI flags, help and ranges).
    public enum Parameter {
        /// The scheme, written as one flag per scheme (`--int8`, recipe `int8: true`).
        public static let scheme = PassParameter("scheme", .flagPerChoice(Scheme.allCases.map(\.rawValue)),
                                                 default: Scheme.int8.rawValue, help: "The scheme (default int8).")
        /// One scale for the whole tensor.
        public static let perTensor = PassParameter("per-tensor", .flag, help: "One scale for the whole tensor.")
        /// One scale per output channel.
        public static let perChannel = PassParameter("per-channel", .flag,
                                                     help: "One scale per output channel (default for 8-bit).")
        /// One scale per group of N weights along the input axis.
        public static let groupSize = PassParameter(
            "group-size", .integer(1...Int.max),
            help: "One scale per group of N weights along the input axis (default 32 for 4-bit).")
        /// Symmetric range.
        public static let symmetric = PassParameter("symmetric", .flag, help: "Symmetric range, zero point 0 (default for int8/int4).")
        /// Asymmetric range.
        public static let asymmetric = PassParameter("asymmetric", .flag,
                                                     help: "Asymmetric range with a zero point (default for uint8/uint4).")
        /// How ranges are chosen: `minmax`, `percentile:P` or `mse`.
        public static let clip = PassParameter(
            "clip", .text, default: ClipMethod.minMax.description,
            help: "Range of each group: minmax (default), percentile:P (e.g. percentile:99.99), or mse.")
        /// The pass's own parameters, in help order.
        public static let all = [scheme, perTensor, perChannel, groupSize, symmetric, asymmetric, clip]
    }

    /// `quantize`.
    public static let stepName = "quantize"
    /// The quantization parameters, then the selection's.
    public static let declaredParameters = Parameter.all + TensorSelection.Parameter.all

    /// The pass these values describe; what is not given takes the scheme's defaults.
    /// - Throws: `PassError.invalidParameter` naming the parameter at fault.
    public init(parameters given: PassParameters) throws {
        typealias P = Parameter
        try given.check(Quantize.declaredParameters)
        let schemeWord = given.text(P.scheme) ?? Scheme.int8.rawValue
        guard let scheme = Scheme(rawValue: schemeWord) else { throw P.scheme.invalid(schemeWord, "unknown scheme \(schemeWord)") }
        let perTensor = given.flag(P.perTensor), perChannel = given.flag(P.perChannel), groupSize = given.integer(P.groupSize)
        let symmetric = given.flag(P.symmetric), asymmetric = given.flag(P.asymmetric)
        if [perTensor, perChannel, groupSize != nil].filter({ $0 }).count > 1 {
            throw P.perTensor.invalid("", "choose one of `per-tensor`, `per-channel` and `group-size`")
        }
        if symmetric && asymmetric { throw P.symmetric.invalid("", "choose `symmetric` or `asymmetric`, not both") }
        let clipWord = given.text(P.clip) ?? ClipMethod.minMax.description
        guard let clip = ClipMethod(parameter: clipWord) else {
            throw P.clip.invalid(clipWord, "`clip` must be minmax, percentile:P or mse (got \(clipWord))")
        }
        if scheme.storage == nil && (perTensor || perChannel || groupSize != nil || symmetric || asymmetric || clip != .minMax) {
            throw P.scheme.invalid(scheme.rawValue, "`\(scheme.rawValue)` is a plain cast: granularity, symmetry and clipping do not apply")
        }
        if case .percentile(let p) = clip, !(p > 50 && p <= 100) {
            throw P.clip.invalid(clipWord, "`clip` percentile:P needs 50 < P <= 100")
        }
        let granularity: Granularity? = perTensor ? .perTensor : perChannel ? .perChannel : groupSize.map { .group($0) }
        self.init(scheme: scheme, granularity: granularity, symmetric: symmetric ? true : asymmetric ? false : nil, clip: clip,
                  selection: TensorSelection(parameters: given))
        // A recipe records the scheme always and the range method only when it is not minmax.
        values = given
        values[P.scheme] = .text(scheme.rawValue)
        if clip == .minMax { values[P.clip] = nil }
    }

    /// The values of this pass: as given when it was built from values, else from its settings.
    public var parameterValues: PassParameters { values }

    /// The values a recipe records for these settings (nil: the scheme's default).
    static func values(scheme: Scheme, granularity: Granularity?, symmetric: Bool?, clip: ClipMethod,
                       selection: TensorSelection) -> PassParameters {
        var v = selection.parameterValues
        v[Parameter.scheme] = .text(scheme.rawValue)
        switch granularity {
        case .perTensor?: v[Parameter.perTensor] = .flag
        case .perChannel?: v[Parameter.perChannel] = .flag
        case .group(let n)?: v[Parameter.groupSize] = .integer(n)
        case nil: break
        }
        if let symmetric { v[symmetric ? Parameter.symmetric : Parameter.asymmetric] = .flag }
        if clip != .minMax { v[Parameter.clip] = .text(clip.description) }
        return v
    }
}

extension ClipMethod {
    /// The method a `clip` value names: `minmax`, `mse` or `percentile:P`.
    public init?(parameter text: String) {
        switch text {
        case "minmax": self = .minMax
        case "mse": self = .mse
        default:
            guard text.hasPrefix("percentile:"), let p = Double(text.dropFirst("percentile:".count)) else { return nil }
            self = .percentile(p)
        }
    }
}
