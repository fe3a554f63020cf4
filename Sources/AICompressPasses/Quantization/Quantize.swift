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
    /// A scheme of the table (int8, uint8, int4, uint4, fp16, bf16): `QuantizationScheme.all`.
    public typealias Scheme = QuantizationScheme

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
    /// The type of the stored scales.
    public let scaleType: QuantizedScale
    /// Which tensors it touches.
    public let selection: TensorSelection
    /// Per-column weights of the scale search (`withImportance`); nil: unweighted.
    public private(set) var importance: ImportanceMatrix?
    /// What a recipe records for this pass (the settings given, not the defaults they imply).
    var values: PassParameters

    /// A pass with these settings; nil granularity, symmetry, clip and scale type take the
    /// scheme's defaults (checked when it runs, or by `validate()`).
    public init(scheme: Scheme, granularity: Granularity? = nil, symmetric: Bool? = nil, clip: ClipMethod? = nil,
                scaleType: QuantizedScale? = nil, selection: TensorSelection = TensorSelection()) {
        self.scheme = scheme
        self.granularity = granularity ?? scheme.defaultGranularity
        self.symmetric = symmetric ?? scheme.defaultSymmetric
        self.clip = clip ?? scheme.defaultClip
        self.scaleType = scaleType ?? scheme.defaultScaleType
        self.selection = selection
        values = Quantize.values(scheme: scheme, granularity: granularity, symmetric: symmetric, clip: clip,
                                 scaleType: scaleType, selection: selection)
    }

    /// This pass with its least-squares scale search weighted by `matrix` (tensors it names;
    /// others stay unweighted). The recipe records the file it came from.
    /// - Throws: `PassError.invalidParameter` when the pass does not search scales by least
    ///   squares (the range methods have no weighted form).
    public func withImportance(_ matrix: ImportanceMatrix) throws -> Quantize {
        guard scheme.storage != nil, clip == .leastSquares else {
            throw Parameter.imatrix.invalid(matrix.source, "`imatrix` weights the least-squares scale search: it needs an integer scheme and `clip` lsq (got \(scheme.id), \(clip))")
        }
        var q = self
        q.importance = matrix
        q.values[Parameter.imatrix] = .text(matrix.source)
        return q
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
            // f32 scales were the only kind before `scale-type`: named only when they are not.
            if scaleType != .f32 { p.append((Parameter.scaleType.name, scaleType.rawValue)) }
            if let importance { p.append((Parameter.imatrix.name, importance.source)) }
        }
        return p + selection.parameters
    }

    /// Checks the parameters and the selection; the transform quantizes each selected tensor.
    public func prepare(_ model: Model) throws -> any TensorTransform {
        try validate()
        if let path = values.text(Parameter.imatrix), importance == nil {
            throw Parameter.imatrix.invalid(path, "`imatrix` \(path) was not loaded: the caller reads the file (ImportanceMatrix) and gives it with withImportance")
        }
        let embeddings = TensorSelection.embeddingNames(in: model.graph)
        let selected = Set(model.tensors.filter { selection.selects($0, embeddings: embeddings) }.map(\.name))
        guard !selected.isEmpty else { throw PassError.nothingSelected(TensorSelection.nothingSelectedReason(model)) }
        if let importance, selected.isDisjoint(with: importance.columns.keys) {
            throw Parameter.imatrix.invalid(importance.source, "the importance matrix \(importance.source) names none of the \(selected.count) selected tensors (its names must be the model's tensor names)")
        }
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
            guard var g = graph, let onnxType = pass.scheme.floatFormat?.onnxElementType else { return graph }
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
        return QuantizationParameters(storage: storage, axis: axis, blockSize: block,
                                      hasZeroPoint: scheme.storesZeroPoints(symmetric: symmetric), scaleType: scaleType)
    }

    /// Quantizes one tensor.
    public func quantize(_ t: Tensor, role: WeightRole) throws -> (Tensor, TensorReport) {
        let floats = try FloatView(t)
        defer { floats.release() }
        let values = floats.values
        let nonFinite = FloatView.countNonFinite(values)
        guard nonFinite == 0 else { throw PassError.nonFinite(tensor: t.name, count: nonFinite, pass: "quantize") }

        let params = parameters(for: t.shape, role: role)
        var request = QuantizationRequest(shape: t.shape, parameters: params, symmetric: symmetric, clip: clip)
        if let importance, let columns = importance.columns[t.name], params != nil {
            guard !importance.multiMatrix.contains(t.name) else {
                throw PassError.unsupported(tensor: t.name, reason: "its importance entry in \(importance.source) holds several matrices (experts), which `imatrix` does not use")
            }
            let axis = t.shape.rank >= 1 ? min(role.reductionAxis, t.shape.rank - 1) : -1
            request.importance = try QuantizationRequest.Importance(columns, axis: axis, shape: t.shape, tensor: t.name)
        }
        let quantized: QuantizedValues
        do {
            quantized = try scheme.quantize(values, request)
        } catch PassError.unsupported(let name, let reason) where name.isEmpty {
            throw PassError.unsupported(tensor: t.name, reason: reason)
        }
        let data = TensorData(quantized.payload), out: Tensor
        if let params {
            // A pruned tensor is stored sparse + quantized when that is smaller (spec §5.4).
            out = try Tensor(name: t.name, dtype: t.dtype, shape: t.shape, encoding: .quantized(params), data: data)
                .sparseQuantizedIfSmaller()
        } else {
            // fp16 / bf16: a dense tensor of the narrower type.
            out = try Tensor(name: t.name, dtype: scheme.floatFormat?.dtype ?? t.dtype, shape: t.shape, data: data)
        }
        let label = params.map { "\($0.storage.name) \($0.granularity)" } ?? scheme.id
        return (out, TensorReport(name: t.name, scheme: label, bytesBefore: t.storedBytes, bytesAfter: out.storedBytes,
                                  figures: quantized.figures))
    }

}
