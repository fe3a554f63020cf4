import AICompressCore

/// What a scheme's implementation is asked to quantize: the tensor's shape and, for integer
/// schemes, the scale layout, the symmetry and how each group's range is chosen.
public struct QuantizationRequest: Sendable {
    /// Shape of the values (row-major).
    public var shape: Shape
    /// Storage, axis, block size and zero points of an integer scheme; nil for float casts.
    public var parameters: QuantizationParameters?
    /// Symmetric range (zero point in the middle of the type).
    public var symmetric: Bool
    /// How each group's range is chosen.
    public var clip: ClipMethod

    /// A request; float casts need only the shape.
    public init(shape: Shape, parameters: QuantizationParameters? = nil, symmetric: Bool = true, clip: ClipMethod = .minMax) {
        self.shape = shape
        self.parameters = parameters
        self.symmetric = symmetric
        self.clip = clip
    }

    /// The integer parameters, for implementations that need them.
    /// - Throws: `PassError.invalidParameter` when the request has none (a float request given
    ///   to an integer scheme).
    func integerParameters() throws -> QuantizationParameters {
        guard let parameters else { throw PassError.invalidParameter(name: "parameters", value: "none", reason: "an integer scheme needs quantization parameters") }
        return parameters
    }
}

/// What an implementation produced: the stored bytes (spec §5 encoding 2 for integer schemes,
/// little-endian 16-bit values for the casts) and the error figures against the input.
public struct QuantizedValues: Sendable {
    /// The tensor's stored bytes.
    public var payload: ByteBuffer
    /// Σx², Σe², max |e|, zeros and elements against the input.
    public var figures: ErrorFigures

    /// The bytes and figures of one quantization.
    public init(payload: ByteBuffer, figures: ErrorFigures) {
        self.payload = payload
        self.figures = figures
    }
}
