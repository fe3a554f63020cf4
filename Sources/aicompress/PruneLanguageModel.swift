import AICompressCore
import AICompressFormats
import AICompressLLM
import AICompressPasses
import Foundation

/// `prune --method wanda|sparsegpt --calibration TEXT` on a LLaMA-family language model (GGUF,
/// or a Hugging Face checkpoint): the projections of every block (phi3: its fused ones) are pruned one block at a
/// time by `LayerwiseDecoderCalibration`, each block calibrated on the outputs of the blocks
/// already pruned; the embedding, the output projection and the norms are left alone. Pruned
/// tensors keep their stored dtype (f32, f16, bf16), and the next block sees exactly the values
/// the file will hold.
struct LanguageModelPrune: CompressionPass {
    /// Wanda or SparseGPT (magnitude is the ordinary pass).
    let method: LinearLayerPruning.Method
    /// What each projection loses.
    let pattern: SparsityPattern
    /// The calibration text (UTF-8 bytes) and its path, for provenance.
    let text: [UInt8], textPath: String
    /// How the text is cut.
    let options: LayerwiseDecoderCalibration.Options
    /// The checkpoint file when the input is a Hugging Face folder or safetensors file (its
    /// config.json and tokenizer.json are read from beside it); nil for GGUF.
    let huggingFace: String?
    /// SparseGPT's dampening, as a fraction of the mean Hessian diagonal.
    var dampFraction = 0.01
    /// Called after each block with (done, total).
    var progress: @Sendable (Int, Int) -> Void = { _, _ in }

    var name: String { "prune" }

    var parameters: [(String, String)] {
        var p: [(String, String)] = [("method", method.rawValue)]
        switch pattern {
        case .unstructured(let f): p.append(("sparsity", "\(f)"))
        case .nOfM(let k, let m): p.append(("pattern", "\(k):\(m)"))
        }
        if options.denseTargets { p.append(("targets", "dense")) }
        p.append(("calibration-tokens", "\(options.sequenceTokens)"))
        if let n = options.maxSequences { p.append(("calibration-chunks", "\(n)")) }
        return p
    }

    /// The word of each tensor report: `wanda sparsity 0.5`, `sparsegpt 2:4`.
    var scheme: String {
        switch pattern {
        case .unstructured(let f): "\(method.rawValue) sparsity \(f)"
        case .nOfM(let k, let m): "\(method.rawValue) \(k):\(m)"
        }
    }

    func prepare(_ model: Model) throws -> any TensorTransform {
        let lm = try languageModel(model)
        let stored = Self.storedNames(model)
        let calibration: LayerwiseDecoderCalibration
        do { calibration = try LayerwiseDecoderCalibration(model: lm, text: text, options: options) } catch {
            let code = error.faultKind == .usage ? ExitStatus.usage : ExitStatus.dataError
            throw ExitStatus.Failure(code: code, message: "\(textPath) (calibration text): \(error)")
        }
        // Checked for every block before any runs: each projection is a dense float tensor of the model.
        var blocks: [String: Int] = [:]
        for (i, layer) in lm.decoder.weights.layers.enumerated() {
            for site in layer.projections(block: i) {
                let name = site.tensorName
                guard let original = stored[name].flatMap({ model.tensor(named: $0) }) else {
                    throw PassError.unsupported(tensor: name, reason: "the decoder's projection is not a tensor of the model written")
                }
                let type = layer.matrix(site).type
                guard [.f32, .f16, .bf16].contains(type), original.encoding == .dense else {
                    throw PassError.unsupported(tensor: original.name, reason: "is stored as \(type); calibrated pruning works on f32, f16 and bf16 weights (dequantize first)")
                }
                blocks[original.name] = i
            }
        }
        let stream = LayerwiseDecoderStream<(Tensor, TensorReport)>(calibration, blocks: blocks, progress: progress) { block in
            try prune(block, model: model, stored: stored)
        }
        return LanguageModelReplacement(stream: stream)
    }

    /// One block pruned: the values the next block is calibrated on, and each projection's
    /// tensor (stored as the original is) and report, by its name in `model`.
    func prune(_ block: DecoderBlockCalibration, model: Model, stored: [String: String]) throws
        -> (weights: [ActivationSite.Kind: [Float]], items: [String: (Tensor, TensorReport)]) {
        var factors = SharedFactor<BlockInputStatistics.Group, HessianFactor>()
        return try prune(block, model: model, stored: stored, factors: &factors)
    }

    /// `prune(_:model:stored:)` with SparseGPT's factors in `factors`: one per input group, held
    /// while its projections are pruned (tests count them).
    func prune(_ block: DecoderBlockCalibration, model: Model, stored: [String: String],
               factors: inout SharedFactor<BlockInputStatistics.Group, HessianFactor>) throws
        -> (weights: [ActivationSite.Kind: [Float]], items: [String: (Tensor, TensorReport)]) {
        let pruning = LinearLayerPruning(method: method, pattern: pattern)
        var effective: [ActivationSite.Kind: [Float]] = [:]
        var replaced: [String: (Tensor, TensorReport)] = [:]
        var gains = SharedFactor<BlockInputStatistics.Group, DenseTargetGain?>()
        // phi3's fused attn_qkv and ffn_up are one weight each: Wanda scores every row with the
        // input they share, SparseGPT sweeps them with its factor.
        // Each input's XᵀX and ΔᵀX are released once its last reader has its factor and gain, as
        // GPTQ does (`DecoderBlockCalibration.releaseMatrices`); Σx² (Wanda's) stays.
        let sites = block.projections
        for (index, site) in sites.enumerated() {
            let name = site.tensorName, group = BlockInputStatistics.Group(site.kind)
            let last = !sites[(index + 1)...].contains { BlockInputStatistics.Group($0.kind) == group }
            defer { if last { block.releaseMatrices(of: group) } }
            // Present: `prepare` checked every projection.
            guard let original = stored[name].flatMap({ model.tensor(named: $0) }) else { continue }
            let w = block.weights(site)
            let (sumSquares, columns, hasGram) = block.statistics(for: site.kind).map { ($0.sumSquares, $0.columns, $0.gram != nil) }
                ?? (nil, 0, false)
            var factor: HessianFactor?
            if method == .sparsegpt, hasGram {
                factor = try factors.factor(for: group) {
                    try HessianFactor(gram: block.statistics(for: site.kind)?.gram ?? [], columns: columns, dampFraction: dampFraction,
                                      layer: original.name)
                }
                if last { block.releaseMatrices(of: group, gram: true, cross: false) }
            }
            let weights = Self.decoded(w)
            var target = weights
            if let f = factor, let gain = try gains.factor(for: group, make: { () -> DenseTargetGain? in
                // Dense targets: W* = W + W·(ΔᵀX)·H⁻¹.
                block.statistics(for: site.kind)?.cross.map { DenseTargetGain(cross: $0, factor: f) }
            }) {
                target = try gain.target(weights, rows: w.rows, layer: original.name)
            }
            if last { block.releaseMatrices(of: group) }
            let result = try pruning.prune(target, rows: w.rows, columns: w.columns, sumSquares: sumSquares,
                                           factor: factor, layer: original.name)
            let (tensor, values) = try Self.encoded(result.values, like: original)
            replaced[original.name] = (tensor, Self.report(original: original, weights: weights, values: values,
                                                           tensor: tensor, scheme: scheme))
            effective[site.kind] = values
        }
        return (effective, replaced)
    }

    /// The decoder of `model`: the GGUF pairs in its metadata, or the Hugging Face checkpoint
    /// read again with its side files (its q/k rows are Hugging Face's, whose rotation differs).
    func languageModel(_ model: Model) throws -> LanguageModel {
        guard let path = huggingFace else { return try LanguageModel(model: model) }
        return try LanguageModel(huggingFace: try ModelIO.read(path: path))
    }

    /// llama.cpp's name of every tensor of `model` → its name in `model` (the same for GGUF and
    /// for a checkpoint converted on the way to GGUF; Hugging Face's when written as safetensors).
    static func storedNames(_ model: Model) -> [String: String] {
        var names: [String: String] = [:]
        for t in model.tensors {
            if case .tensor(let gguf, _, _)? = HFLlamaTensorNames.map(t.name) { names[gguf] = t.name } else { names[t.name] = t.name }
        }
        return names
    }

    /// Every row of `w` as f32 (`rows × columns`).
    static func decoded(_ w: WeightMatrix) -> [Float] {
        var out = [Float](repeating: 0, count: w.rows * w.columns)
        out.withUnsafeMutableBufferPointer { w.decodeRows(0..<w.rows, into: $0.baseAddress!) }
        return out
    }

    /// `values` stored as `like` is (name, shape, dtype), and the values the stored tensor decodes to.
    static func encoded(_ values: [Float], like t: Tensor) throws -> (Tensor, [Float]) {
        switch t.dtype {
        case .f16:
            let bits = values.map(\.float16Bits)
            return (try Tensor(name: t.name, dtype: .f16, shape: t.shape, data: TensorData(values: bits)),
                    bits.map { Float(Float16(bitPattern: $0)) })
        case .bf16:
            let bits = values.map(\.bfloat16Bits)
            return (try Tensor(name: t.name, dtype: .bf16, shape: t.shape, data: TensorData(values: bits)),
                    bits.map { Float(bitPattern: UInt32($0) << 16) })
        default:
            return (try Tensor(name: t.name, shape: t.shape, floats: values), values)
        }
    }

    /// The report of one pruned tensor against its original values.
    static func report(original: Tensor, weights: [Float], values: [Float], tensor: Tensor, scheme: String) -> TensorReport {
        var signal = 0.0, error = 0.0, maxError = 0.0, zeros = 0
        for (x, y) in zip(weights, values) {
            let d = Double(x) - Double(y)
            signal += Double(x) * Double(x)
            error += d * d
            maxError = max(maxError, abs(d))
            if y == 0 { zeros += 1 }
        }
        return TensorReport(name: original.name, scheme: scheme, bytesBefore: original.storedBytes, bytesAfter: tensor.storedBytes,
                            elements: values.count, signalEnergy: signal, errorEnergy: error, maxAbsError: maxError, zerosAfter: zeros)
    }
}

/// Swaps in the tensors the calibration pruned, block by block as the writer reaches them, and
/// leaves the rest alone.
struct LanguageModelReplacement: TensorTransform {
    let stream: LayerwiseDecoderStream<(Tensor, TensorReport)>

    /// One tensor at a time: a block's calibration runs inside the transform of its first tensor.
    var parallelInside: Bool { true }

    func transform(_ tensor: Tensor) throws -> (Tensor, TensorReport?) {
        guard let (t, r) = try stream.take(tensor.name) else { return (tensor, nil) }
        return (t, r)
    }
}
