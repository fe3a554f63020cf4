import AICompressCore

/// `quantize --method gptq`: the integer scheme, granularity, symmetry and range rule of a
/// `Quantize` pass, with the weights of `Gemm`/`MatMul` nodes quantized by GPTQ on calibration
/// data one layer at a time (each layer seeing the already-quantized layers' outputs). The
/// result has exactly the encoding round-to-nearest gives (same scale layout, same range rule
/// per group, fitted to the GPTQ-updated weights), so every reader and the ONNX/safetensors
/// writers take it as they are. Other selected tensors (Conv weights, …) are rounded to nearest.
public struct GPTQQuantize: CompressionPass {
    /// The scheme and its settings (an integer scheme).
    public var base: Quantize
    /// The calibration data.
    public var calibration: CalibrationData
    /// Dampening, block size and act-order.
    public var gptq: GPTQ

    /// A GPTQ pass onto `base`'s grid.
    public init(base: Quantize, calibration: CalibrationData, gptq: GPTQ = GPTQ()) {
        self.base = base
        self.calibration = calibration
        self.gptq = gptq
    }

    public var name: String { "quantize" }

    public var parameters: [(String, String)] {
        var p = base.parameters
        p.insert(("method", "gptq"), at: 1)
        let selectionKeys = Set(base.selection.parameters.map(\.0))
        let at = p.firstIndex { selectionKeys.contains($0.0) } ?? p.count
        p.insert(contentsOf: [("act-order", String(gptq.actOrder)), ("damp", "\(gptq.dampFraction)"),
                              ("calibration-rows", "\(calibration.maxRows)")], at: at)
        return p
    }

    public func prepare(_ model: Model) throws -> any TensorTransform {
        guard let storage = base.scheme.storage else {
            throw PassError.invalidParameter(name: "method", value: "gptq", reason: "`method` gptq quantizes onto an integer scheme (int8, uint8, int4, uint4), not \(base.scheme.id)")
        }
        guard base.granularity != .perTensor else {
            throw PassError.invalidParameter(name: "method", value: "gptq", reason: "`method` gptq needs per-channel or group scales, not one scale per tensor")
        }
        let rtn = try base.prepare(model)  // checks the selection as plain quantize does
        let embeddings = TensorSelection.embeddingNames(in: model.graph)
        let layers = CalibratedLayer.find(in: model) { base.selection.selects($0, embeddings: embeddings) }
        guard !layers.isEmpty else {
            throw PassError.nothingSelected("`method` gptq quantizes the weights of Gemm and MatMul nodes; no selected tensor is one")
        }
        let roles = WeightRole.roles(in: model.graph)
        let type = IntegerReference.IntegerType(bits: storage.bits, signed: storage.isSigned)
        let (symmetric, clip) = (base.symmetric, base.clip)
        let label = "gptq"
        let run = LayerwiseCalibration(batches: try calibration.batches(for: model), needsGram: true, denseTargets: true)
        let tensors = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let biases = Self.refittedBiases(layers, tensors: tensors, selection: base.selection, embeddings: embeddings)
        let results = try run.run(model, layers: layers) { layer, stats, weights in
            let fit = try DenseTargetLayer(weights: weights, rows: layer.outputs, statistics: stats, bias: biases[layer.weight],
                                           dampFraction: gptq.dampFraction, layer: layer.weight)
            let shape = try Shape(layer.inputMajor ? [layer.inputs, layer.outputs] : [layer.outputs, layer.inputs])
            guard let params = base.parameters(for: shape, role: roles[layer.weight] ?? .outputFirst) else {
                throw PassError.unsupported(tensor: layer.weight, reason: "no integer layout")
            }
            let outputAxis = layer.inputMajor ? 1 : 0
            let groupSize = params.axis == outputAxis ? 0 : params.blockSize
            let grid = IntegerGrid(qmin: storage.qmin, qmax: storage.qmax, groupSize: groupSize, rows: layer.outputs, columns: layer.inputs) {
                let (s, z) = IntegerReference.groupScale($0, weights: nil, type: type, symmetric: symmetric, clip: clip,
                                                         scaleType: params.scaleType)
                return (s, z)
            }
            let r = try gptq.quantize(fit.target, rows: layer.outputs, statistics: fit.statistics, grid: grid, layer: layer.weight)
            if params.scaleType == .f16, let big = r.grid.scales.first(where: { !Float16($0).isFinite }) {
                throw PassError.unsupported(tensor: layer.weight, reason: "a scale of \(big) does not fit f16; use `scale-type` f32")
            }
            var c = try Self.encoded(layer, shape: shape, params: params, original: weights, result: r, label: "\(label) \(storage.name) \(params.granularity)")
            c.bias = try fit.refittedBias(r.weights)
            return c
        }
        return GPTQTransform(rtn: rtn, calibrated: try DenseTargetLayer.tensors(results, model: tensors, scheme: label))
    }

    /// The bias tensor of each layer (by weight name) that the sweep refits (`DenseTargets`):
    /// every layer's bias unless the scheme's `selection` quantizes it.
    static func refittedBiases(_ layers: [CalibratedLayer], tensors: [String: Tensor], selection: TensorSelection,
                               embeddings: Set<String>) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for l in layers {
            guard let name = l.bias, let b = tensors[name], !selection.selects(b, embeddings: embeddings) else { continue }
            out[l.weight] = b
        }
        return out
    }

    /// The quantized tensor (spec §5 encoding 2, scales in the parameters' type) of a GPTQ result,
    /// and its report.
    static func encoded(_ layer: CalibratedLayer, shape: Shape, params: QuantizationParameters, original: [Float],
                        result r: GPTQ.Result, label: String) throws -> LayerwiseCalibration.Compressed {
        let layout = try QuantizedLayout(shape: shape, parameters: params)
        var codes = [Int](repeating: 0, count: shape.elementCount)
        var scales = [Float](repeating: 1, count: layout.scaleCount), zeros = [Int](repeating: 0, count: layout.scaleCount)
        var figures = ErrorFigures()
        for o in 0..<layer.outputs {
            for i in 0..<layer.inputs {
                let g = r.grid.group(of: i), value = r.weights[o * layer.inputs + i]
                let k = layer.inputMajor ? i * layer.outputs + o : o * layer.inputs + i
                let s = layout.scaleIndex(k)
                (scales[s], zeros[s]) = r.grid.parameters(row: o, group: g)
                codes[k] = r.grid.code(row: o, group: g, value: value)
                figures.add(original: Double(original[o * layer.inputs + i]), changed: Double(value))
            }
        }
        var bytes = [UInt8](repeating: 0, count: layout.payloadBytes)
        let bits = params.storage.bits
        func put(_ v: Int, at k: Int, base: Int) {
            if bits == 8 { bytes[base + k] = UInt8(truncatingIfNeeded: v); return }
            let nibble = UInt8(truncatingIfNeeded: v) & 0x0F
            bytes[base + k >> 1] |= k & 1 == 0 ? nibble : nibble << 4
        }
        for (k, c) in codes.enumerated() { put(c, at: k, base: 0) }
        bytes.withUnsafeMutableBytes { out in for (s, v) in scales.enumerated() { layout.storeScale(v, s, into: out) } }
        if params.hasZeroPoint { for (s, z) in zeros.enumerated() { put(z, at: s, base: layout.zeroPointsOffset) } }
        let data = TensorData(bytes.withUnsafeBytes { ByteBuffer.copying($0) })
        let tensor = try Tensor(name: layer.weight, dtype: .f32, shape: shape, encoding: .quantized(params), data: data)
        let report = TensorReport(name: layer.weight, scheme: label, bytesBefore: original.count * 4, bytesAfter: bytes.count, figures: figures)
        return LayerwiseCalibration.Compressed(tensor: tensor, report: report, effective: r.weights)
    }
}

/// GPTQ's tensors where calibrated, the scheme's round-to-nearest for the other selected ones.
struct GPTQTransform: TensorTransform {
    let rtn: any TensorTransform
    let calibrated: [String: (Tensor, TensorReport)]

    func transform(_ tensor: Tensor) throws -> (Tensor, TensorReport?) {
        guard let (t, r) = calibrated[tensor.name] else { return try rtn.transform(tensor) }
        var report = r
        report.bytesBefore = tensor.storedBytes
        return (t, report)
    }

    func outputGraph(_ graph: Graph?) throws -> Graph? { try rtn.outputGraph(graph) }
    func outputMetadata(_ metadata: inout [String: String]) { rtn.outputMetadata(&metadata) }
}
