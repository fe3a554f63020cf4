import AICompressCore

/// The quantization pass: integer schemes (int8, uint8, int4, uint4) with per-tensor,
/// per-channel or per-group scales, and the float casts fp16 and bf16. Its parameters are
/// declared in `Quantize+Parameters.swift`.
///
/// ```swift
/// let pass = Quantize(scheme: .int8)                       // symmetric, per output channel
/// let (small, report) = try pass.apply(model)
/// ```
public struct Quantize: ConfigurablePass {
    public enum Scheme: String, Sendable, CaseIterable {
        case int8, uint8, int4, uint4, fp16, bf16

        /// The integer storage, nil for the float casts.
        public var storage: QuantizedStorage? {
            switch self {
            case .int8: return .int8
            case .uint8: return .uint8
            case .int4: return .int4
            case .uint4: return .uint4
            case .fp16, .bf16: return nil
            }
        }

        /// Symmetric by default for signed types, asymmetric for unsigned.
        public var defaultSymmetric: Bool { self == .int8 || self == .int4 }

        /// Per output channel for 8-bit, groups of 32 along the input for 4-bit.
        public var defaultGranularity: Granularity {
            switch self {
            case .int4, .uint4: return .group(32)
            default: return .perChannel
            }
        }
    }

    public enum Granularity: Sendable, Equatable, CustomStringConvertible {
        case perTensor
        case perChannel
        /// Blocks of N consecutive weights along the reduction (input) axis.
        case group(Int)

        public var description: String {
            switch self {
            case .perTensor: return "per-tensor"
            case .perChannel: return "per-channel"
            case .group(let n): return "group-\(n)"
            }
        }
    }

    /// The storage type, or a float cast.
    public let scheme: Scheme
    /// Where scales change: per tensor, per output channel or per group.
    public let granularity: Granularity
    /// Symmetric range (zero point 0) or asymmetric.
    public let symmetric: Bool
    /// How each group's range is chosen.
    public let clip: ClipMethod
    /// Which tensors it touches.
    public let selection: TensorSelection
    /// What a recipe records for this pass (the settings given, not the defaults they imply).
    var values: PassParameters

    /// A pass with these settings; nil granularity and symmetry take the scheme's defaults
    /// (checked when it runs, or by `validate()`).
    public init(scheme: Scheme, granularity: Granularity? = nil, symmetric: Bool? = nil, clip: ClipMethod = .minMax,
                selection: TensorSelection = TensorSelection()) {
        self.scheme = scheme
        self.granularity = granularity ?? scheme.defaultGranularity
        self.symmetric = symmetric ?? scheme.defaultSymmetric
        self.clip = clip
        self.selection = selection
        values = Quantize.values(scheme: scheme, granularity: granularity, symmetric: symmetric, clip: clip, selection: selection)
    }

    /// Checks the parameters (the same checks as `init(parameters:)`).
    /// - Throws: `PassError.invalidParameter`.
    public func validate() throws {
        _ = try Quantize(parameters: values)
    }

    /// Provenance words: the settings in effect, defaults included, then the selection's.
    public var parameters: [(String, String)] {
        var p: [(String, String)] = [(Parameter.scheme.name, scheme.rawValue)]
        if scheme.storage != nil {
            p += [("granularity", granularity.description), (Parameter.symmetric.name, String(symmetric)),
                  (Parameter.clip.name, clip.description)]
        }
        return p + selection.parameters
    }

    /// Checks the parameters and the selection; the transform quantizes each selected tensor.
    public func prepare(_ model: Model) throws -> any TensorTransform {
        try validate()
        let embeddings = TensorSelection.embeddingNames(in: model.graph)
        let selected = Set(model.tensors.filter { selection.selects($0, embeddings: embeddings) }.map(\.name))
        guard !selected.isEmpty else { throw PassError.nothingSelected(TensorSelection.nothingSelectedReason(model)) }
        return Transform(pass: self, selected: selected, roles: WeightRole.roles(in: model.graph))
    }

    struct Transform: TensorTransform {
        let pass: Quantize
        let selected: Set<String>
        let roles: [String: WeightRole]

        func transform(_ t: Tensor) throws -> (Tensor, TensorReport?) {
            guard selected.contains(t.name) else { return (t, nil) }
            return try pass.quantize(t, role: roles[t.name] ?? .outputFirst)
        }

        /// fp16/bf16 change a weight's type but not the graph's arithmetic: each cast weight gets
        /// a Cast node back to its original type in front of its consumers, so the model still
        /// runs (in ONNX too) with weights stored at half the size.
        func outputGraph(_ graph: Graph?) throws -> Graph? {
            guard var g = graph, pass.scheme.storage == nil else { return graph }
            let onnxType: Int32 = pass.scheme == .fp16 ? 10 : 16
            var taken = Set(g.nodes.flatMap(\.outputs))
            var casts: [Node] = []
            for name in selected.sorted() where g.nodes.contains(where: { $0.inputs.contains(name) }) {
                var castOut = name + "_" + pass.scheme.rawValue + "_to_float"
                while taken.contains(castOut) || selected.contains(castOut) { castOut += "_" }
                taken.insert(castOut)
                for i in g.nodes.indices {
                    g.nodes[i].inputs = g.nodes[i].inputs.map { $0 == name ? castOut : $0 }
                }
                casts.append(Node(name: castOut, opType: "Cast", inputs: [name], outputs: [castOut],
                                  attributes: [Attribute(name: "to", value: .int(1))]))
                for i in g.inputs.indices where g.inputs[i].name == name {
                    if case .tensor(_, let shape) = g.inputs[i].type { g.inputs[i].type = .tensor(elemType: onnxType, shape: shape) }
                }
            }
            g.nodes = casts + g.nodes
            return g
        }
    }

    /// The quantization parameters this pass uses for a tensor of `shape` in `role`.
    public func parameters(for shape: Shape, role: WeightRole) -> QuantizationParameters? {
        guard let storage = scheme.storage else { return nil }
        let axis: Int?
        var block = 0
        switch granularity {
        case .perTensor: axis = nil
        case .perChannel: axis = shape.rank >= 1 ? min(role.channelAxis, shape.rank - 1) : nil
        case .group(let n):
            let reduction = shape.rank >= 1 ? min(role.reductionAxis, shape.rank - 1) : nil
            if let r = reduction, shape.dims[r] < n {
                // A group longer than the axis (a conv weight [M, 1, 3, 3] along its single
                // input channel) would give a scale per few weights and grow the tensor: one
                // scale per output channel instead.
                axis = min(role.channelAxis, shape.rank - 1)
            } else {
                axis = reduction
                block = axis == nil ? 0 : n
            }
        }
        // Symmetric signed schemes have a zero point of 0 everywhere, which need not be stored.
        let zp = !(symmetric && storage.isSigned)
        return QuantizationParameters(storage: storage, axis: axis, blockSize: block, hasZeroPoint: zp)
    }

    /// Quantizes one tensor.
    public func quantize(_ t: Tensor, role: WeightRole) throws -> (Tensor, TensorReport) {
        let floats = try FloatView(t)
        defer { floats.release() }
        let values = floats.values
        let nonFinite = FloatView.countNonFinite(values)
        guard nonFinite == 0 else { throw PassError.nonFinite(tensor: t.name, count: nonFinite) }

        guard let params = parameters(for: t.shape, role: role) else {
            return try cast(t, values)
        }
        let layout = try QuantizedLayout(shape: t.shape, parameters: params)
        let (payload, _, errors) = IntegerQuantizer.quantize(values, layout: layout, symmetric: symmetric, clip: clip)
        let out = try Tensor(name: t.name, dtype: t.dtype, shape: t.shape, encoding: .quantized(params), data: TensorData(payload))
        let report = TensorReport(name: t.name, scheme: "\(params.storage.name) \(params.granularity)", bytesBefore: t.storedBytes,
                                  bytesAfter: payload.count, elements: t.elementCount, signalEnergy: errors.signal,
                                  errorEnergy: errors.error, maxAbsError: errors.maxAbs, zerosAfter: errors.zeros)
        return (out, report)
    }

    /// fp16 / bf16: a dense tensor of the narrower type, rounded to nearest even.
    func cast(_ t: Tensor, _ values: UnsafeBufferPointer<Float>) throws -> (Tensor, TensorReport) {
        let dtype: DType = scheme == .fp16 ? .f16 : .bf16
        let n = values.count
        let chunk = 1 << 16
        nonisolated(unsafe) var partsOut: [IntegerQuantizer.Errors] = []
        let buffer = ByteBuffer.build(count: 2 * n) { out in
            nonisolated(unsafe) let dst = out.baseAddress!.assumingMemoryBound(to: UInt16.self)
            partsOut = Parallel.map((n + chunk - 1) / chunk) { c -> IntegerQuantizer.Errors in
                var e = IntegerQuantizer.Errors()
                for k in (c * chunk)..<min(n, (c + 1) * chunk) {
                    let x = values[k]
                    let bits = dtype == .f16 ? x.float16Bits : x.bfloat16Bits
                    dst[k] = bits.littleEndian
                    let back = dtype == .f16 ? Float(float16Bits: bits) : Float(bfloat16Bits: bits)
                    let d = Double(x) - Double(back)
                    e.signal += Double(x) * Double(x)
                    e.error += d.isFinite ? d * d : .infinity
                    e.maxAbs = max(e.maxAbs, abs(d))
                    if back == 0 { e.zeros += 1 }
                }
                return e
            }
        }
        var errors = IntegerQuantizer.Errors()
        for p in partsOut { errors.merge(p) }
        let out = try Tensor(name: t.name, dtype: dtype, shape: t.shape, data: TensorData(buffer))
        return (out, TensorReport(name: t.name, scheme: scheme.rawValue, bytesBefore: t.storedBytes, bytesAfter: buffer.count,
                                  elements: n, signalEnergy: errors.signal, errorEnergy: errors.error,
                                  maxAbsError: errors.maxAbs, zerosAfter: errors.zeros))
    }
}
