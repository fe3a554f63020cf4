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
    /// Per-column weights of the error that `ClipMethod.leastSquares` minimises; nil: unweighted.
    public var importance: Importance?

    /// Weights of the squared error per index of one axis (an importance matrix's mean squared
    /// input of each column, along the tensor's input axis).
    public struct Importance: Sendable, Equatable {
        /// One non-negative finite weight per index of `axis`.
        public let values: [Float]
        /// The axis the weights run along.
        public let axis: Int
        /// The product of the dimensions after `axis`.
        public let inner: Int

        /// Weights along `axis` of `shape`.
        /// - Throws: `PassError.unsupported` naming `tensor` when the axis does not exist, the
        ///   count differs from the axis length, or a weight is negative or not finite.
        public init(_ values: [Float], axis: Int, shape: Shape, tensor: String) throws {
            guard axis >= 0, axis < shape.rank else {
                throw PassError.unsupported(tensor: tensor, reason: "importance weights need an axis; the tensor has shape \(shape)")
            }
            guard values.count == shape.dims[axis] else {
                throw PassError.unsupported(tensor: tensor, reason: "the importance matrix has \(values.count) columns; the tensor's input axis \(axis) of \(shape) has \(shape.dims[axis])")
            }
            if let bad = values.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
                throw PassError.unsupported(tensor: tensor, reason: "importance weight \(bad) is \(values[bad]); weights must be finite and non-negative")
            }
            self.values = values
            self.axis = axis
            inner = shape.dims[(axis + 1)...].reduce(1, *)
        }

        /// The weight of flat (row-major) element `k`.
        @inline(__always)
        public func weight(ofElement k: Int) -> Float { values[(k / inner) % values.count] }
    }

    /// A request; float casts need only the shape.
    public init(shape: Shape, parameters: QuantizationParameters? = nil, symmetric: Bool = true, clip: ClipMethod = .minMax,
                importance: Importance? = nil) {
        self.shape = shape
        self.parameters = parameters
        self.symmetric = symmetric
        self.clip = clip
        self.importance = importance
    }

    /// Refuses scales that the layout's scale type cannot hold (binary16 above 65504).
    /// - Throws: `PassError.unsupported`; the message names the parameter to change.
    static func checkScales(_ scales: [Float], layout: QuantizedLayout, tensor: String = "") throws {
        guard let bad = scales.firstIndex(where: { !$0.isFinite }) else { return }
        throw PassError.unsupported(tensor: tensor, reason: "the scale of group \(bad) does not fit \(layout.parameters.scaleType) scales (values too large); use `scale-type` f32")
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
