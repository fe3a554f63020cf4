import AICompressCore

/// One quantization scheme's traits, as ggml's `type_traits` table (llama.cpp ggml/src/ggml.c):
/// its flag name, what it stores, bits per weight, defaults, help text, fast implementation, the
/// plain reference it is tested against, and a named error budget.
///
/// Every scheme is one record in its own file (Schemes/QuantizationScheme+ID.swift) and one line in
/// `QuantizationScheme.all`; the CLI flags, `quantize --list` and the scheme test loop derive from
/// that table.
///
/// ```swift
/// let pass = Quantize(scheme: .int4)          // QuantizationScheme.int4, groups of 32
/// print(QuantizationScheme.int4.budget.name)  // "INT4_G32_GAUSSIAN_SQNR"
/// ```
public struct QuantizationScheme: Sendable, Hashable, CustomStringConvertible {
    /// The fast implementation: payload and error figures of `values` (row-major over the
    /// request's shape). It must agree bit for bit with `reference` on the payload.
    public typealias Implementation = @Sendable (UnsafeBufferPointer<Float>, QuantizationRequest) throws -> QuantizedValues
    /// The plain reference twin: written apart from the fast path, so it can catch its mistakes.
    public typealias Reference = @Sendable ([Float], QuantizationRequest) throws -> QuantizedValues

    /// What the scheme stores per value.
    public enum Representation: Sendable {
        /// Integers plus one f32 scale (and, asymmetric, one zero point) per group (spec §5, encoding 2).
        case integer(QuantizedStorage)
        /// A dense tensor of a narrower float type.
        case float(FloatFormat)
    }

    /// One row of `quantize --list`: the scheme with `flags` added, measured with `granularity`,
    /// `symmetric`, `clip` and `scaleType` (nil: the scheme's default).
    public struct Listing: Sendable {
        /// What follows the scheme's flag, e.g. ` --per-tensor`.
        public let flags: String
        /// The granularity the row is measured with; nil for the default.
        public let granularity: Quantize.Granularity?
        /// The symmetry the row is measured with; nil for the default.
        public let symmetric: Bool?
        /// The range method the row is measured with; nil for the default.
        public let clip: ClipMethod?
        /// The scale type the row is measured with; nil for the default.
        public let scaleType: QuantizedScale?
        /// The layout column, e.g. `symmetric, one scale`.
        public let layout: String

        /// A row of the listing.
        public init(flags: String = "", granularity: Quantize.Granularity? = nil, symmetric: Bool? = nil,
                    clip: ClipMethod? = nil, scaleType: QuantizedScale? = nil, layout: String) {
            self.flags = flags
            self.granularity = granularity
            self.symmetric = symmetric
            self.clip = clip
            self.scaleType = scaleType
            self.layout = layout
        }
    }

    /// A named lower bound on quality: the SQNR the scheme's default settings must reach on the
    /// N(0, 1) weights of `SchemeListing.weights` shaped [rows, 4096] (SchemeTableTests uses 32
    /// rows, `quantize --list` 256). The scheme test fails below it, as llama.cpp's
    /// test-quantize-fns fails above `MAX_QUANTIZATION_TOTAL_ERROR_*`.
    public struct ErrorBudget: Sendable {
        /// A constant-style name that tests and reports quote, e.g. `INT8_PER_CHANNEL_GAUSSIAN_SQNR`.
        public let name: String
        /// The floor in dB.
        public let minimumSQNR: Double

        /// A budget named `name` with an SQNR floor in dB.
        public init(_ name: String, minimumSQNR: Double) {
            self.name = name
            self.minimumSQNR = minimumSQNR
        }
    }

    /// Flag and recipe name: `int8` is `--int8`.
    public let id: String
    /// The flag's help line.
    public let help: String
    /// What is stored per value.
    public let representation: Representation
    /// Granularity when none is given (recorded, unused, for float casts).
    public let defaultGranularity: Quantize.Granularity
    /// Symmetric range when neither `--symmetric` nor `--asymmetric` is given.
    public let defaultSymmetric: Bool
    /// How each group's scale is chosen when `--clip` is not given.
    public let defaultClip: ClipMethod
    /// The scale type when `--scale-type` is not given.
    public let defaultScaleType: QuantizedScale
    /// The quality floor of the default settings.
    public let budget: ErrorBudget
    /// The rows this scheme adds to `quantize --list`.
    public let listing: [Listing]
    /// The fast implementation.
    public let quantize: Implementation
    /// The plain reference implementation.
    public let reference: Reference

    /// A record; see the files in Schemes/ and `integer(…)`/`float(…)` for the usual ones.
    public init(id: String, help: String, representation: Representation, defaultGranularity: Quantize.Granularity,
                defaultSymmetric: Bool, defaultClip: ClipMethod = .minMax, defaultScaleType: QuantizedScale = .f32,
                budget: ErrorBudget, listing: [Listing],
                quantize: @escaping Implementation, reference: @escaping Reference) {
        self.id = id
        self.help = help
        self.representation = representation
        self.defaultGranularity = defaultGranularity
        self.defaultSymmetric = defaultSymmetric
        self.defaultClip = defaultClip
        self.defaultScaleType = defaultScaleType
        self.budget = budget
        self.listing = listing
        self.quantize = quantize
        self.reference = reference
    }

    /// An integer scheme: `IntegerQuantizer` is its fast path, `IntegerReference` its reference.
    public static func integer(_ id: String, storage: QuantizedStorage, help: String, granularity: Quantize.Granularity,
                               symmetric: Bool, clip: ClipMethod = .minMax, scaleType: QuantizedScale = .f32,
                               budget: ErrorBudget, listing: [Listing]) -> QuantizationScheme {
        QuantizationScheme(id: id, help: help, representation: .integer(storage), defaultGranularity: granularity,
                           defaultSymmetric: symmetric, defaultClip: clip, defaultScaleType: scaleType, budget: budget, listing: listing,
                           quantize: IntegerQuantizer.quantize, reference: IntegerReference.quantize)
    }

    /// A float cast to `coding.format`: `coding` rounds a value to the format's bits and reads
    /// them back (the fast path, `FloatCast.quantize`); `FloatCastReference` is its reference.
    public static func float<Coding: FloatCoding>(_ id: String, coding: Coding.Type, help: String,
                                                  budget: ErrorBudget, listing: [Listing]) -> QuantizationScheme {
        let format = Coding.format
        // Granularity and symmetry do not apply to a cast; these are the values Quantize has
        // always recorded for one.
        return QuantizationScheme(id: id, help: help, representation: .float(format), defaultGranularity: .perChannel,
                           defaultSymmetric: false, budget: budget, listing: listing,
                           quantize: { values, _ in FloatCast.quantize(values, as: Coding.self) },
                           reference: { values, _ in FloatCastReference.quantize(values, format: format) })
    }

    /// The integer storage, nil for the float casts.
    public var storage: QuantizedStorage? {
        if case .integer(let s) = representation { return s }
        return nil
    }

    /// The float format of a cast, nil for integer schemes.
    public var floatFormat: FloatFormat? {
        if case .float(let f) = representation { return f }
        return nil
    }

    /// Whether zero points are stored: always, except for symmetric signed storage, where every
    /// zero point is 0.
    public func storesZeroPoints(symmetric: Bool) -> Bool {
        guard let storage else { return false }
        return !(symmetric && storage.isSigned)
    }

    /// Bits per weight with `weightsPerScale` weights sharing each scale of `scaleType` (and zero
    /// point of the storage's width, when stored): value bits + (scale bits + zero-point bits) /
    /// weightsPerScale. Equals `QuantizedLayout.bitsPerWeight` when the groups divide the tensor
    /// evenly.
    public func bitsPerWeight(weightsPerScale: Int, symmetric: Bool, scaleType: QuantizedScale = .f32) -> Double {
        switch representation {
        case .float(let f): return Double(f.dtype.bits)
        case .integer(let s):
            let perGroup = scaleType.bits + (storesZeroPoints(symmetric: symmetric) ? s.bits : 0)
            return Double(s.bits) + Double(perGroup) / Double(max(weightsPerScale, 1))
        }
    }

    /// The id.
    public var description: String { id }

    /// Schemes are equal when their ids are.
    public static func == (a: QuantizationScheme, b: QuantizationScheme) -> Bool { a.id == b.id }

    /// Hashes the id.
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}
