import AICompressCore
import AICompressFormats
import AICompressLLM
import AICompressPasses
import Foundation

extension QuantizeGGUF {
    /// `--method awq`'s settings (`--calibration`, `--calibration-tokens`, `--calibration-chunks`,
    /// `--awq-grid`).
    struct AWQ {
        let text: CalibrationText
        /// α is searched on k / grid, k = 0 ..< grid (`AWQScaleSearch.grid`).
        var grid = 20

        /// `pass` with AWQ's tensors: every blk.N projection whose planned type is a block type,
        /// encoded with the scales `AWQBlock` searched, and the attention and FFN norms those
        /// scales are folded into (same dtype and shape). The text is read at once; the blocks
        /// run as the writer reaches them (`LayerwiseDecoderStream`), so one block's tensors are
        /// held at a time, as for GPTQ.
        func attach(to pass: GGUFQuantize) throws -> GGUFQuantize {
            let bytes = try text.bytes()
            let (text, search) = (text, AWQScaleSearch(grid: grid))
            let words = [("method", "awq")] + text.words + [("awq-grid", "\(grid)")]
            let reports = CalibratedReportStore()
            return pass.withCalibration(words, { model, types in
                let lm = try LanguageModel(beingWritten: model)
                let calibration = try text.layerwise(lm, bytes: bytes)
                // Each block's planned projections and its two norms (which a fold may replace), by block.
                let layers = lm.decoder.weights.layers.count
                var blocks = QuantizeGGUF.quantizedProjections(layers: layers, types: types)
                for i in 0..<layers { for norm in ["attn_norm", "ffn_norm"] { blocks["blk.\(i).\(norm).weight"] = i } }
                let stream = LayerwiseDecoderStream<Tensor>(calibration, blocks: blocks, progress: QuantizeGGUF.blockProgress(
                    "awq", interactive: text.interactive, sequences: calibration.sequences.count, tokens: text.tokens)) { block in
                    try Self.encode(block, model: model, config: lm.decoder.config, types: types, search: search, reports: reports)
                }
                return StreamedTensors(stream: stream)
            }, reports: { reports.get($0) })
        }

        /// AWQ on one block: its planned projections encoded (their reports go to `reports`),
        /// the norms a fold changed, and the values the next block is calibrated on.
        static func encode(_ block: DecoderBlockCalibration, model: Model, config: DecoderConfig, types: [String: GGMLType],
                           search: AWQScaleSearch, reports: CalibratedReportStore) throws -> (weights: [ActivationSite.Kind: [Float]], items: [String: Tensor]) {
            // Keyed by the stored weights' sites: phi3's fused attn_qkv as .query, ffn_up (gate|up) as .up.
            var planned: [ActivationSite.Kind: GGMLType] = [:], sites: [ActivationSite.Kind: ActivationSite] = [:]
            for site in block.projections {
                if let type = types[site.tensorName], type.isQuantized { (planned[site.kind], sites[site.kind]) = (type, site) }
            }
            let r = try AWQBlock.run(block, config: config, types: planned, search: search)
            var encoded: [String: Tensor] = [:]
            for (kind, type) in planned {
                guard let data = r.encoded[kind], let effective = r.effective[kind], let site = sites[kind] else { continue }
                let name = site.tensorName, w = block.weights(site)
                let t = try Tensor(name: name, dtype: .f32, shape: Shape([w.rows, w.columns]), encoding: .ggml(type), data: TensorData(bytes: data))
                encoded[name] = t
                let original = model.tensor(named: name)?.storedBytes ?? t.storedBytes
                reports.set(name, .ggml(name: name, type: type, method: "awq", original: w.floats(), decoded: effective,
                                        bytesBefore: original, bytesAfter: t.storedBytes))
            }
            for (norm, values, folded) in [("attn_norm", r.attentionNorm, r.scales.attention != nil),
                                           ("ffn_norm", r.ffnNorm, r.scales.feedForward != nil)] where folded {
                let name = "blk.\(block.index).\(norm).weight"
                encoded[name] = try Self.norm(values, like: model.tensor(named: name), name: name)
            }
            return (r.effective, encoded)
        }

        /// The recipe keys after the pass's (`CalibratedStep`): the method, the text with its
        /// SHA-256 and size, how it is cut, and the α grid, so `apply` searches the same scales.
        func recipeOptions() throws -> [Recipe.Option] {
            typealias C = CalibratedStep
            return [C.option("method", "awq")] + (try text.recipeOptions()) + [C.option("awq-grid", "\(grid)")]
        }

        /// AWQ's tensors as the writer reaches them: block i runs at the first of its tensors
        /// asked for.
        struct StreamedTensors: CalibratedTensors {
            let stream: LayerwiseDecoderStream<Tensor>
            func tensor(named name: String) throws -> Tensor? { try stream.take(name) }
        }

        /// The folded norm `values` in the dtype of the norm they replace (f32 or f16).
        static func norm(_ values: [Float], like old: Tensor?, name: String) throws -> Tensor {
            guard let old, old.isDense, old.shape.dims == [values.count] else {
                throw PassError.unsupported(tensor: name, reason: "awq folds its scales into this norm, which is not a dense vector of \(values.count)")
            }
            switch old.dtype {
            case .f32: return try Tensor(name: name, shape: old.shape, floats: values)
            case .f16: return try Tensor(name: name, dtype: .f16, shape: old.shape, data: TensorData(values: values.map { Float16($0) }))
            default:
                throw PassError.unsupported(tensor: name, reason: "awq folds its scales into this norm, stored as \(old.dtype); it writes f32 or f16 norms only")
            }
        }
    }
}
