import AICompressCore
import AICompressFormats
import AICompressLLM
import AICompressPasses
import Foundation

private typealias G = GGUFQuantize.Parameter

/// The `--gguf` side of `aicompress quantize`: llama.cpp file types with llama-quantize's
/// per-tensor rules (`GGUFQuantize`), `--pure`, `--tensor-type REGEX=TYPE`, `--imatrix FILE`
/// (llama-quantize --imatrix, bit for bit) and `--dry-run`.
struct QuantizeGGUF {
    let type: String
    let pure: Bool
    let tensorTypes: [String]
    var imatrix: String? = nil
    /// `--method gptq`: GPTQ into the block types of every block projection, calibrated on a text.
    var gptq: GPTQ? = nil
    /// `--calibration TEXT` with `--method rtn`: the importance matrix computed from the text
    /// (as `aicompress imatrix` computes it) and used as `--imatrix` would use that file.
    var importanceText: ImportanceText? = nil
    /// `--method awq`: AWQ's scales searched and folded block by block, calibrated on a text.
    var awq: AWQ? = nil
    /// `--allow-requantize`: tensors already in a block type may be requantized.
    var allowRequantize = false

    /// The importance matrix of a text (`--calibration`, `--calibration-tokens` as imatrix's
    /// `--context`, `--calibration-chunks` as its `--chunks`), computed on `model` (the input)
    /// and written to `save` (`--save-imatrix`) when given.
    struct ImportanceText {
        let text: CalibrationText
        let model: String
        let save: String?
    }

    /// GPTQ's settings (`--calibration`, `--calibration-tokens`, `--calibration-chunks`,
    /// `--damp`, `--act-order`, `--head`).
    struct GPTQ {
        let text: CalibrationText
        let damp: Double
        let actOrder: Bool
        /// The output head's method (`GPTQHead`).
        var head: GPTQHead = .auto
        /// An untied token_embd's method (`GPTQEmbedding`).
        var embedding: GPTQEmbedding = .auto
        /// Fit each block projection to the dense model's outputs (`DenseTargetGain`); false: to
        /// its own outputs on the compressed input (recipes written before dense targets).
        var denseTargets = true
        /// Refuse a pruned weight in the pass itself (`apply`, which has no command-layer check;
        /// the command checks before calibrating, naming the file).
        var refusesPruned = false
    }

    /// The pass's parameter values.
    var parameters: PassParameters {
        var v = PassParameters()
        v[G.gguf] = .text(type)
        v[G.pure] = pure ? .flag : nil
        v[G.tensorType] = tensorTypes.isEmpty ? nil : .list(tensorTypes)
        v[G.allowRequantize] = allowRequantize ? .flag : nil
        return v
    }

    /// The pass (checks the values).
    func pass() throws -> GGUFQuantize {
        let pass = try GGUFQuantize.fromCommandLine(parameters)
        if let gptq { return try gptq.attach(to: pass) }
        if let awq { return try awq.attach(to: pass) }
        if let importanceText { return pass.withImportance(try importanceText.matrix()) }
        guard let imatrix else { return pass }
        return pass.withImportance(try ImportanceMatrix(tensors: ModelIO.read(path: imatrix).model.tensors, source: imatrix))
    }

    /// Quantizes `input` into `output`.
    func run(input: String, output: String, out: OutputOptions, report: ReportOptions) throws {
        let pass = try pass()
        try PassRunner.run(pass, input: input, output: output, out: out, report: report, recipe: [try recipeStep(pass)],
                           verify: { try check(pass, input: input, $0) })
    }

    /// Refuses, naming the input, before any calibration runs: a tensor already in a block type
    /// without `--allow-requantize` (which `pass` refuses too, without the file's name), and
    /// for GPTQ a pruned weight it would sweep (`PrunedWeights`).
    func check(_ pass: GGUFQuantize, input: String, _ loaded: LoadedModel) throws {
        if !pass.allowRequantize, let r = try pass.requantized(loaded.model) {
            throw ExitStatus.Failure(code: ExitStatus.usage,
                                     message: "\(input == "-" ? "<stdin>" : input): " + GGUFQuantize.requantizeRefusal(r).commandLineMessage)
        }
        if let gptq {
            try PrunedWeights.refuse(loaded.model, names: try PrunedWeights.ggufWeights(loaded.model, pass: pass, head: gptq.head,
                                                                                            embedding: gptq.embedding),
                                     input: input, instead: PrunedWeights.ggufAdvice)
        }
    }

    /// The recorded step: the pass's keys, then those of the method and its data file
    /// (`CalibratedStep`), so that `apply` gives the same file.
    func recipeStep(_ pass: GGUFQuantize) throws -> Recipe.Step {
        var step = Recipe.Step(pass)
        typealias C = CalibratedStep
        if let g = gptq {
            step.options += [C.option("method", "gptq")] + (try g.text.recipeOptions()) + [C.option("damp", "\(g.damp)")]
                + (g.actOrder ? [C.flag("act-order")] : []) + [C.option("head", g.head.rawValue), C.option("embedding", g.embedding.rawValue)]
                + (g.denseTargets ? [C.option("targets", "dense")] : [])
        } else if let a = awq {
            step.options += try a.recipeOptions()
        } else if let t = importanceText, t.save == nil {
            step.options += try t.text.recipeOptions()
        } else if let path = importanceText?.save ?? imatrix {
            // The saved matrix is what the quantization used: the step is `--imatrix` of it.
            step.options += try C.file("imatrix", path: path)
        }
        return step
    }

    /// Prints the plan (per tensor: old type, new type, sizes) and the final size; writes nothing.
    func dryRun(input: String) throws -> String {
        let pass = try pass()
        // The plan is for a GGUF: a Hugging Face checkpoint is planned under llama.cpp's names.
        let model = try HFLlamaConversion.prepared(try ModelIO.read(path: input), for: .gguf).model
        let plan = try pass.plan(model)
        var rows: [[String]] = []
        var before = 0, after = 0, fallbacks = 0
        for (t, p) in zip(model.tensors, plan) {
            let from = t.ggmlType?.name ?? t.dtype.description
            let to = p.decision.type?.name ?? "(kept)"
            if p.decision.fellBack { fallbacks += 1 }
            rows.append([t.name, "\(t.shape)", from, to + (p.decision.fellBack ? " (fallback)" : ""),
                         Format.bytes(p.bytesBefore), Format.bytes(p.bytesAfter),
                         String(format: "%.2f", t.elementCount > 0 ? Double(p.bytesAfter * 8) / Double(t.elementCount) : 0)])
            before += p.bytesBefore
            after += p.bytesAfter
        }
        let params = max(model.parameterCount, 1)
        return Format.table(header: ["tensor", "shape", "from", "to", "bytes before", "bytes after", "bits/weight"],
                            rows: rows, rightAligned: [4, 5, 6])
            + "\n\(pass.planner.fileType.name)\(pass.planner.pure ? " (pure)" : ""): tensor data \(Format.bytes(before)) -> "
            + "\(Format.bytes(after)) (\(String(format: "%.2f", Double(after * 8) / Double(params))) bits/weight), "
            + "\(fallbacks) fallback(s); dry run, nothing written\n"
    }
}

extension QuantizeGGUF.GPTQ {
    /// `pass` with GPTQ's tensors for every blk.N projection whose planned type is a block type
    /// (F16/F32 fallbacks stay as planned); the text is read, and the types checked, at once.
    func attach(to pass: GGUFQuantize) throws -> GGUFQuantize {
        let bytes = try text.bytes()
        let (text, damp, actOrder, head, embedding) = (text, damp, actOrder, head, embedding)
        let refusesPruned = refusesPruned, denseTargets = denseTargets
        let words = [("method", "gptq")] + text.words + [("damp", "\(damp)")] + (actOrder ? [("act-order", "true")] : [])
            + [("head", head.rawValue), ("embedding", embedding.rawValue)] + (denseTargets ? [("targets", "dense")] : [])
        return pass.withCalibration(words) { model, types in
            // Refused before any block runs: every block projection's planned type must have a grid.
            for (name, type) in types.sorted(by: { $0.key < $1.key }) where type.isQuantized && !GGMLGPTQ.supports(type)
                && ActivationSite.isProjection(name) {
                throw Self.unsupported(name, type)
            }
            // The head, calibrated past the last block (one past it in the stream's numbering).
            let headName = Self.headName(model)
            let headType = head.calibrates(headName) ? types[headName].flatMap { $0.isQuantized ? $0 : nil } : nil
            if let t = headType, !GGMLGPTQ.supports(t) { throw Self.unsupported(headName, t) }
            let embeddingType = try Self.embeddingType(embedding, model: model, types: types)
            if refusesPruned {
                var swept = Set(types.keys.filter { name in
                    types[name]?.isQuantized == true && ActivationSite.isProjection(name)
                })
                if headType != nil { swept.insert(headName) }
                if embeddingType != nil { swept.insert("token_embd.weight") }
                if let f = PrunedWeights.first(in: model, names: swept) {
                    throw PassError.invalidParameter(name: "method", value: "gptq", reason: "tensor '\(f.tensor)' is pruned "
                        + "(\(Format.printf("%.1f", f.sparsity * 100))% exact zeros): GPTQ moves pruned weights and GGUF stores no sparsity, "
                        + "so the pruning would be lost; \(PrunedWeights.ggufAdvice)")
                }
            }
            let lm = try LanguageModel(beingWritten: model)
            let calibration = try text.layerwise(lm, bytes: bytes, denseTargets: denseTargets)
            var blocks = QuantizeGGUF.quantizedProjections(layers: lm.decoder.weights.layers.count, types: types)
            if headType != nil { blocks[headName] = lm.decoder.weights.layers.count }
            let stream = LayerwiseDecoderStream<Tensor>(calibration, blocks: blocks, progress: QuantizeGGUF.blockProgress(
                "gptq", interactive: text.interactive, sequences: calibration.sequences.count, tokens: text.tokens), head: headType.map { type in
                { statistics in try Self.quantizeHead(lm, name: headName, type: type, statistics: statistics, damp: damp, actOrder: actOrder) }
            }) { block in try Self.quantize(block, types: types, damp: damp, actOrder: actOrder) }
            var makeEmbedding: (@Sendable () throws -> Tensor)? = nil
            if let type = embeddingType { makeEmbedding = { try Self.quantizeEmbedding(lm, type: type, damp: damp, actOrder: actOrder) } }
            return StreamedTensors(stream: stream, writtenLast: headType == nil ? [] : [headName], embedding: makeEmbedding)
        }
    }

    /// GPTQ on one block: each projection with a quantized type, encoded, and the values it
    /// decodes to (which the next block is calibrated on). The projections that read one input
    /// (q/k/v, gate/up) sweep with one factor of it, made once (`SharedFactor`): 4 factors a
    /// block, not 7, with the bytes of one factor per projection (the same XᵀX, dampening and
    /// act-order give the same factor).
    static func quantize(_ block: DecoderBlockCalibration, types: [String: GGMLType], damp: Double, actOrder: Bool) throws
        -> (weights: [ActivationSite.Kind: [Float]], items: [String: Tensor]) {
        var factors = Factors()
        return try quantize(block, types: types, damp: damp, actOrder: actOrder, factors: &factors)
    }

    /// Which factor a projection sweeps with: its input's, and under act-order its type's block
    /// width (the act-order keeps blocks whole, so Q4_0 and Q4_K order one input differently).
    struct FactorKey: Hashable {
        let group: BlockInputStatistics.Group
        let width: Int?
    }

    /// One block's factors, one held at a time (a fresh one for every block: the key names no block).
    typealias Factors = SharedFactor<FactorKey, GGMLGPTQ.Factored>

    /// `quantize(_:types:damp:actOrder:)` with the block's factors in `factors` (tests count them).
    static func quantize(_ block: DecoderBlockCalibration, types: [String: GGMLType], damp: Double, actOrder: Bool,
                         factors: inout Factors) throws -> (weights: [ActivationSite.Kind: [Float]], items: [String: Tensor]) {
        var replaced: [ActivationSite.Kind: [Float]] = [:]
        var encoded: [String: Tensor] = [:]
        var gains = SharedFactor<BlockInputStatistics.Group, DenseTargetGain?>()
        // In order: q, k, v, attn_output, gate, up, down (each input's readers together); phi3's
        // fused attn_qkv and ffn_up are one weight each, swept with their input's factor.
        // Each input's XᵀX and ΔᵀX are released once its last reader has its factor and gain
        // (`releaseMatrices`): the block would otherwise hold all of them while ffn_down's
        // factor, gain and sweep, the largest, are made.
        let sites = block.projections
        for (index, site) in sites.enumerated() {
            let name = site.tensorName, group = BlockInputStatistics.Group(site.kind)
            let last = !sites[(index + 1)...].contains { BlockInputStatistics.Group($0.kind) == group }
            guard let type = types[name], type.isQuantized else {
                if last { block.releaseMatrices(of: group) }
                continue
            }
            let w = block.weights(site)
            guard let importance = block.statistics(for: site.kind).flatMap({ $0.gram == nil ? nil : $0.meanSquares }) else { continue }
            let gptq: GGMLGPTQ
            do { gptq = try GGMLGPTQ(type: type, dampFraction: damp, actOrder: actOrder) } catch { throw Self.unsupported(name, type) }
            var values = [Float](repeating: 0, count: w.rows * w.columns)
            values.withUnsafeMutableBufferPointer { w.decodeRows(0..<w.rows, into: $0.baseAddress!) }
            let factored = try factors.factor(for: FactorKey(group: group, width: gptq.factorKey)) {
                try gptq.factored(gram: block.statistics(for: site.kind)?.gram ?? [], columns: w.columns, layer: name)
            }
            if last { block.releaseMatrices(of: group, gram: true, cross: false) }
            if let gain = try gains.factor(for: group, make: { () throws -> DenseTargetGain? in
                // Dense targets: W* = W + W·(ΔᵀX)·H⁻¹, one gain per input.
                guard let cross = block.statistics(for: site.kind)?.cross else { return nil }
                return DenseTargetGain(cross: cross, factor: factored.factor, order: factored.order)
            }) {
                values = try gain.target(values, rows: w.rows, layer: name)
            }
            if last { block.releaseMatrices(of: group) }
            let r = try gptq.quantize(values, rows: w.rows, columns: w.columns, factored: factored, importance: importance, layer: name)
            encoded[name] = try Tensor(name: name, dtype: .f32, shape: Shape([w.rows, w.columns]), encoding: .ggml(type),
                                       data: TensorData(bytes: r.bytes))
            replaced[site.kind] = r.weights
        }
        return (replaced, encoded)
    }

    /// GPTQ's tensors as the writer reaches them (`LayerwiseDecoderStream`).
    struct StreamedTensors: CalibratedTensors {
        let stream: LayerwiseDecoderStream<Tensor>
        /// The head, when GPTQ makes it: written after the blocks (`CalibratedTensors.writtenLast`).
        let writtenLast: Set<String>
        /// An untied token_embd by GPTQ, made when the writer asks for it (it needs no calibration data).
        var embedding: (@Sendable () throws -> Tensor)? = nil
        func tensor(named name: String) throws -> Tensor? {
            if name == "token_embd.weight", let embedding { return try embedding() }
            return try stream.take(name)
        }
    }

    static func unsupported(_ name: String, _ type: GGMLType) -> PassError {
        PassError.invalidParameter(name: "method", value: "gptq", reason: "tensor '\(name)' gets \(type), and `method` gptq into it is not built "
            + "(it rounds onto the block grids of " + GGMLGPTQ.types.map(\.name).joined(separator: ", ") + ")")
    }
}

/// What the calibrated GGUF methods (GPTQ, AWQ) share in building their block stream.
extension QuantizeGGUF {
    /// Every block projection with a quantized type, by the block that makes it.
    static func quantizedProjections(layers: Int, types: [String: GGMLType]) -> [String: Int] {
        var blocks: [String: Int] = [:]
        for i in 0..<layers {
            for name in ActivationSite.projectionNames(layer: i) where types[name]?.isQuantized == true { blocks[name] = i }
        }
        return blocks
    }

    /// A calibrated stream's progress on a terminal (`METHOD: block i/N, S × T tokens`), drawn as
    /// each block starts so it shows while the block runs, and cleared at the end.
    static func blockProgress(_ method: String, interactive: Bool, sequences: Int, tokens: Int) -> (Int, Int) -> Void {
        { done, total in
            guard interactive else { return }
            FileHandleOutput.stderr("\r\u{1B}[K" + (done < total ? "\(method): block \(done + 1)/\(total), \(sequences) × \(tokens) tokens" : ""))
        }
    }
}
