import AICompressCore

/// `prune --method sparsegpt --quantize SCHEME`: SparseGPT's joint sparsification and
/// quantization (Frantar & Alistarh 2023, §"Joint Sparsification & Quantization"). One OBS sweep
/// per `Gemm`/`MatMul` weight chooses the mask as `prune --method sparsegpt` does, rounds each
/// kept weight onto `base`'s integer grid (the range rule and scale layout `quantize --method
/// gptq` uses, each group fitted to its kept, already-updated weights when the sweep enters it)
/// and spreads both the pruned weights' and the rounding's error over the columns not yet fixed.
/// Pruned weights are exactly 0 (their zero point), so the tensor is stored sparse + quantized
/// (spec §5.4, encoding 4) whenever that is smaller, as `quantize` stores a pruned tensor. Other
/// selected tensors (Conv weights, …) are rounded to nearest by `base`, unpruned, as a `quantize`
/// after `prune --method sparsegpt` would leave them.
public struct SparseGPTQuantize: CompressionPass {
    /// The integer scheme, granularity, symmetry, range rule and selection.
    public var base: Quantize
    /// What is removed.
    public var pattern: SparsityPattern
    /// The calibration data.
    public var calibration: CalibrationData
    /// SparseGPT's dampening fraction of the mean Hessian diagonal.
    public var dampFraction: Double

    /// The joint pass: prune to `pattern` and quantize onto `base`'s grid in one sweep.
    public init(base: Quantize, pattern: SparsityPattern, calibration: CalibrationData, dampFraction: Double = 0.01) {
        self.base = base
        self.pattern = pattern
        self.calibration = calibration
        self.dampFraction = dampFraction
    }

    /// The joint mode's own parameter (`group-size` is `Quantize`'s).
    public enum Parameter {
        /// The integer scheme the kept weights are rounded onto.
        public static let quantize = PassParameter(
            "quantize", .choice(Quantize.Scheme.all.filter { $0.storage != nil }.map(\.id)),
            help: "With `method` sparsegpt: also round the kept weights onto this integer scheme in the same sweep, "
                + "the rounding error compensated like the pruning's (stored sparse + quantized).")
    }

    public var name: String { "prune" }

    public var parameters: [(String, String)] {
        var p: [(String, String)] = [("method", "sparsegpt")]
        switch pattern {
        case .unstructured(let f): p.append(("sparsity", "\(f)"))
        case .nOfM(let k, let m): p.append(("pattern", "\(k):\(m)"))
        }
        p.append(("quantize", base.scheme.id))
        if case .group(let n) = base.granularity { p.append(("group-size", "\(n)")) }
        p.append(("calibration-rows", "\(calibration.maxRows)"))
        return p + base.selection.parameters
    }

    /// The report word: `sparsegpt sparsity 0.5 + int4 group-32`.
    func label(_ storage: QuantizedStorage, _ granularity: String) -> String {
        let removed: String
        switch pattern {
        case .unstructured(let f): removed = "sparsity \(f)"
        case .nOfM(let k, let m): removed = "\(k):\(m)"
        }
        return "sparsegpt \(removed) + \(storage.name) \(granularity)"
    }

    public func prepare(_ model: Model) throws -> any TensorTransform {
        guard let storage = base.scheme.storage else {
            throw PassError.invalidParameter(name: "quantize", value: base.scheme.id, reason: "`quantize` takes an integer scheme (int8, uint8, int4, uint4), not \(base.scheme.id)")
        }
        guard base.granularity != .perTensor else {
            throw PassError.invalidParameter(name: "quantize", value: base.scheme.id, reason: "the joint sweep needs per-channel or group scales, not one scale per tensor")
        }
        let rtn = try base.prepare(model)  // checks the selection as plain quantize does
        let embeddings = TensorSelection.embeddingNames(in: model.graph)
        let layers = CalibratedLayer.find(in: model) { base.selection.selects($0, embeddings: embeddings) }
        guard !layers.isEmpty else {
            throw PassError.nothingSelected("`method` sparsegpt prunes the weights of Gemm and MatMul nodes; no selected tensor is one")
        }
        for layer in layers where model.tensors.first(where: { $0.name == layer.weight })?.dtype != .f32 {
            throw PassError.unsupported(tensor: layer.weight, reason: "calibrated pruning works on f32 weights")
        }
        let roles = WeightRole.roles(in: model.graph)
        let type = IntegerReference.IntegerType(bits: storage.bits, signed: storage.isSigned)
        let (symmetric, clip) = (base.symmetric, base.clip)
        let sparseGPT = SparseGPT(dampFraction: dampFraction), pattern = self.pattern
        let run = LayerwiseCalibration(batches: try calibration.batches(for: model), needsGram: true, denseTargets: true)
        let tensors = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let biases = GPTQQuantize.refittedBiases(layers, tensors: tensors, selection: base.selection, embeddings: embeddings)
        let results = try run.run(model, layers: layers) { layer, stats, weights in
            let fit = try DenseTargetLayer(weights: weights, rows: layer.outputs, statistics: stats, bias: biases[layer.weight],
                                           dampFraction: dampFraction, layer: layer.weight)
            let shape = try Shape(layer.inputMajor ? [layer.inputs, layer.outputs] : [layer.outputs, layer.inputs])
            guard let params = base.parameters(for: shape, role: roles[layer.weight] ?? .outputFirst) else {
                throw PassError.unsupported(tensor: layer.weight, reason: "no integer layout")
            }
            let groupSize = params.axis == (layer.inputMajor ? 1 : 0) ? 0 : params.blockSize
            let grid = IntegerGrid(qmin: storage.qmin, qmax: storage.qmax, groupSize: groupSize, rows: layer.outputs, columns: layer.inputs) {
                let (s, z) = IntegerReference.groupScale($0, weights: nil, type: type, symmetric: symmetric, clip: clip, scaleType: params.scaleType)
                return (s, z)
            }
            let r = try sparseGPT.prune(fit.target, rows: layer.outputs, statistics: fit.statistics, pattern: pattern, grid: grid, layer: layer.weight)
            guard let fitted = r.grid else { throw PassError.unsupported(tensor: layer.weight, reason: "the sweep returned no grid") }
            if params.scaleType == .f16, let big = fitted.scales.first(where: { !Float16($0).isFinite }) {
                throw PassError.unsupported(tensor: layer.weight, reason: "a scale of \(big) does not fit f16; use `scale-type` f32")
            }
            var c = try GPTQQuantize.encoded(layer, shape: shape, params: params, original: weights,
                                             result: GPTQ.Result(weights: r.weights, grid: fitted, loss: r.loss),
                                             label: label(storage, params.granularity))
            // Pruned weights hold their zero point: stored sparse + quantized when smaller (spec §5.4).
            c.tensor = try c.tensor.sparseQuantizedIfSmaller()
            c.report.bytesAfter = c.tensor.storedBytes
            c.bias = try fit.refittedBias(r.weights)
            return c
        }
        return GPTQTransform(rtn: rtn, calibrated: try DenseTargetLayer.tensors(results, model: tensors, scheme: "sparsegpt"))
    }
}
