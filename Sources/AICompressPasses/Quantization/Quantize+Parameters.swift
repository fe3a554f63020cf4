import AICompressCore

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
        /// How scales are chosen: `minmax`, `percentile:P`, `mse` or `lsq`.
        public static let clip = PassParameter(
            "clip", .text,
            help: "Scale of each group: minmax (default for 8-bit and uint4), percentile:P (e.g. percentile:99.99), mse, "
                + "or lsq (least-squares search, all 2^b levels; default for int4).")
        /// The type of the stored scales.
        public static let scaleType = PassParameter(
            "scale-type", .choice(QuantizedScale.allCases.map(\.rawValue)),
            help: "Type of the stored scales: f32 or f16 (default f16 for int4, f32 otherwise; ONNX and safetensors store the f16 values as f32).")
        /// A llama.cpp importance matrix weighting the least-squares scale search.
        public static let imatrix = PassParameter(
            "imatrix", .text,
            help: "llama.cpp importance matrix (.gguf from llama-imatrix): weights each input column's error in the lsq scale search.")
        /// The pass's own parameters, in help order.
        public static let all = [scheme, perTensor, perChannel, groupSize, symmetric, asymmetric, clip, scaleType, imatrix]
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
        let clipWord = given.text(P.clip)
        var clip: ClipMethod? = nil
        if let clipWord {
            guard let c = ClipMethod(parameter: clipWord) else {
                throw P.clip.invalid(clipWord, "`clip` must be minmax, percentile:P, mse or lsq (got \(clipWord))")
            }
            clip = c
        }
        let scaleWord = given.text(P.scaleType)
        let scaleType = scaleWord.flatMap { QuantizedScale(rawValue: $0) }
        if let scaleWord, scaleType == nil { throw P.scaleType.invalid(scaleWord, "`scale-type` must be f32 or f16 (got \(scaleWord))") }
        if scheme.storage == nil && (perTensor || perChannel || groupSize != nil || symmetric || asymmetric || clip != nil
                                     || scaleType != nil || given.text(P.imatrix) != nil) {
            throw P.scheme.invalid(scheme.rawValue, "`\(scheme.rawValue)` is a plain cast: granularity, symmetry, clipping, scale type and importance do not apply")
        }
        if case .percentile(let p)? = clip, !(p > 50 && p <= 100) {
            throw P.clip.invalid(clipWord ?? "", "`clip` percentile:P needs 50 < P <= 100")
        }
        if let path = given.text(P.imatrix), (clip ?? scheme.defaultClip) != .leastSquares {
            throw P.imatrix.invalid(path, "`imatrix` weights the least-squares scale search: it needs `clip` lsq (the default for int4)")
        }
        let granularity: Granularity? = perTensor ? .perTensor : perChannel ? .perChannel : groupSize.map { .group($0) }
        self.init(scheme: scheme, granularity: granularity, symmetric: symmetric ? true : asymmetric ? false : nil, clip: clip,
                  scaleType: scaleType, selection: TensorSelection(parameters: given))
        // A recipe records the scheme always, and the range method and scale type when they are
        // not the scheme's defaults.
        values = given
        values[P.scheme] = .text(scheme.rawValue)
        if clip == scheme.defaultClip { values[P.clip] = nil }
        if scaleType == scheme.defaultScaleType { values[P.scaleType] = nil }
    }

    /// The values of this pass: as given when it was built from values, else from its settings.
    public var parameterValues: PassParameters { values }

    /// The values a recipe records for these settings (nil: the scheme's default).
    static func values(scheme: Scheme, granularity: Granularity?, symmetric: Bool?, clip: ClipMethod?,
                       scaleType: QuantizedScale?, selection: TensorSelection) -> PassParameters {
        var v = selection.parameterValues
        v[Parameter.scheme] = .text(scheme.rawValue)
        switch granularity {
        case .perTensor?: v[Parameter.perTensor] = .flag
        case .perChannel?: v[Parameter.perChannel] = .flag
        case .group(let n)?: v[Parameter.groupSize] = .integer(n)
        case nil: break
        }
        if let symmetric { v[symmetric ? Parameter.symmetric : Parameter.asymmetric] = .flag }
        if let clip, clip != scheme.defaultClip { v[Parameter.clip] = .text(clip.description) }
        if let scaleType, scaleType != scheme.defaultScaleType { v[Parameter.scaleType] = .text(scaleType.rawValue) }
        return v
    }
}

extension ClipMethod {
    /// The method a `clip` value names: `minmax`, `mse` or `percentile:P`.
    public init?(parameter text: String) {
        switch text {
        case "minmax": self = .minMax
        case "mse": self = .mse
        case "lsq": self = .leastSquares
        default:
            guard text.hasPrefix("percentile:"), let p = Double(text.dropFirst("percentile:".count)) else { return nil }
            self = .percentile(p)
        }
    }
}
