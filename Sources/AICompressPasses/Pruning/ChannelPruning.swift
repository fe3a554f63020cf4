import AICompressCore
import AICompressTraining

/// Structured pruning of whole output channels. With a graph, layers are physically shrunk: the
/// channel's weights and bias entries go, and so do the matching inputs of the next layer (and
/// BatchNormalization parameters, a MatMul's Add bias, Flatten blocks after a Conv), so the file
/// and the compute both get smaller and the model keeps running with the new shapes. Patterns
/// it cannot prove safe (a branch or residual Add, a Concat, an unknown op between two layers,
/// grouped convolutions) are refused with the reason. A layer whose output is a graph output
/// keeps its channels (its width is the model's interface). Without a graph the channels are
/// zeroed instead.
enum ChannelPruning {
    /// One slice to apply to a tensor: keep `indices` along `axis` (each index covering `block`
    /// consecutive entries).
    struct Slice {
        let axis: Int
        let indices: [Int]
        let block: Int
    }

    // The op sets come from the executor's op table (OpTraits), so an op is declared once.
    static let elementwise = OpTable.names(with: .channelPassThrough)
    static let pooling = OpTable.names(with: .channelPooling)
    static let layers = OpTable.names(with: .prunableLayer)
    /// Ops after which a layer's channels are the model's outputs (classes): such a layer keeps
    /// its channels.
    static let terminal = OpTable.names(with: .channelDecision)

    static func plan(model: Model, selected: [Tensor], keep: Double, norm: Prune.Norm,
                     roles: [String: WeightRole]) throws -> any TensorTransform {
        guard keep > 0 else { throw Prune.Parameter.keep.invalid("0", "`keep` 0 would remove every channel") }
        guard let graph = model.graph, !graph.nodes.isEmpty else {
            return MaskTransform(selected: Set(selected.map(\.name)), keep: keep, norm: norm, roles: roles)
        }
        var consumers: [String: [Int]] = [:]
        var uses: [String: Int] = [:]
        for (i, n) in graph.nodes.enumerated() {
            for input in n.inputs where !input.isEmpty {
                consumers[input, default: []].append(i)
                uses[input, default: 0] += 1
            }
        }
        let outputs = Set(graph.outputs.map(\.name))
        var slices: [String: [Slice]] = [:]
        var changedValues = Set<String>()
        var reports: [String: String] = [:]
        for w in selected {
            func unsafe(_ why: String) -> PassError {
                .unsupported(tensor: w.name, reason: "cannot remove channels: \(why) (leave it out with `exclude` '\(w.name)')")
            }
            guard let pIndex = graph.nodes.firstIndex(where: { layers.contains($0.opType) && $0.inputs.count >= 2 && $0.inputs[1] == w.name }) else {
                throw unsafe("it is not the weight of a Gemm, MatMul or Conv")
            }
            let p = graph.nodes[pIndex]
            guard uses[w.name] == 1 else { throw unsafe("it is used by more than one node") }
            if p.opType == "Conv", case .int(let g)? = p.attribute("group"), g != 1 { throw unsafe("grouped convolution") }
            let role = roles[w.name] ?? .outputFirst
            guard w.shape.rank >= 2 else { throw unsafe("it has rank \(w.shape.rank)") }
            let channels = w.shape.dims[role.channelAxis]
            // Walk from the layer's output to the next layer.
            var extra: [(name: String, axis: Int)] = []  // per-channel constants, sliced along `axis`
            if p.inputs.count >= 3, !p.inputs[2].isEmpty {
                guard let b = model.tensor(named: p.inputs[2]), b.shape.dims == [channels], uses[b.name] == 1 else {
                    throw unsafe("its bias '\(p.inputs[2])' is not a 1-D constant of \(channels) entries used only here")
                }
                extra.append((b.name, 0))
            }
            var current = p.outputs[0]
            var chain: [String] = [current]
            var spatial: Int? = nil  // set when a Flatten follows a Conv
            var next: Node? = nil
            var isOutputLayer = false
            walk: while true {
                if outputs.contains(current) {
                    isOutputLayer = true
                    break
                }
                let cons = consumers[current] ?? []
                guard cons.count == 1 else { throw unsafe("the value '\(current)' has \(cons.count) consumers (a branch or residual connection)") }
                let c = graph.nodes[cons[0]]
                if terminal.contains(c.opType) {
                    isOutputLayer = true
                    break
                }
                switch c.opType {
                case _ where layers.contains(c.opType) && c.inputs.first == current:
                    next = c
                    break walk
                case _ where elementwise.contains(c.opType):
                    if c.opType == "PRelu" { throw unsafe("PRelu between layers is not handled") }
                case _ where pooling.contains(c.opType):
                    guard p.opType == "Conv" else { throw unsafe("\(c.opType) after \(p.opType)") }
                case "BatchNormalization":
                    for name in c.inputs.dropFirst().prefix(4) {
                        guard let t = model.tensor(named: name), t.shape.dims == [channels], uses[name] == 1 else {
                            throw unsafe("BatchNormalization parameter '\(name)' is not a constant of \(channels) entries")
                        }
                        extra.append((name, 0))
                    }
                case "Add":
                    // A bias of [channels] or, as skl2onnx writes it, [1, channels].
                    let other = c.inputs.first { $0 != current } ?? ""
                    let dims = model.tensor(named: other)?.shape.dims ?? []
                    guard c.inputs.count == 2, dims.last == channels, dims.dropLast().allSatisfy({ $0 == 1 }), uses[other] == 1,
                          p.opType == "MatMul" else {
                        throw unsafe("an Add with '\(other)' (a residual connection or a broadcast it cannot slice)")
                    }
                    extra.append((other, dims.count - 1))
                case "Flatten":
                    var axis: Int64 = 1
                    if case .int(let a)? = c.attribute("axis") { axis = a }
                    guard p.opType == "Conv", axis == 1, spatial == nil else { throw unsafe("Flatten that does not follow a Conv on axis 1") }
                    spatial = 0  // resolved against the next layer's input width below
                default:
                    throw unsafe("\(c.opType) between layers is not handled")
                }
                guard let out = c.outputs.first else { throw unsafe("\(c.opType) has no output") }
                current = out
                chain.append(current)
            }
            if isOutputLayer { continue }
            guard let q = next, q.inputs.count >= 2, let w2 = model.tensor(named: q.inputs[1]), uses[w2.name] == 1 else {
                throw unsafe("the next layer's weight is not a constant used only there")
            }
            if q.opType == "Conv", case .int(let g)? = q.attribute("group"), g != 1 { throw unsafe("the next layer is a grouped convolution") }
            let role2 = roles[w2.name] ?? .outputFirst
            let inAxis = role2.reductionAxis
            let width = w2.shape.dims[inAxis]
            var block = 1
            if spatial != nil {
                guard width % channels == 0 else { throw unsafe("the flattened width \(width) is not a multiple of \(channels) channels") }
                block = width / channels
            } else {
                guard width == channels else { throw unsafe("the next layer takes \(width) inputs, not \(channels)") }
            }
            // Scores on the original weights, the top k channels kept (ties to the lower index).
            let scores = channelNorms(w, axis: role.channelAxis, norm: norm)
            let k = max(1, Prune.keepCount(keep, of: channels))
            let kept = Array(scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.prefix(k)).sorted()
            slices[w.name, default: []].append(Slice(axis: role.channelAxis, indices: kept, block: 1))
            for (name, axis) in extra {
                slices[name, default: []].append(Slice(axis: axis, indices: kept, block: 1))
                reports[name] = "entries of removed channels of '\(w.name)'"
            }
            slices[w2.name, default: []].append(Slice(axis: inAxis, indices: kept, block: block))
            if reports[w2.name] == nil { reports[w2.name] = "inputs of removed channels of '\(w.name)'" }
            changedValues.formUnion(chain)
            reports[w.name] = "channels kept \(k)/\(channels) (\(norm.rawValue))"
                + (reports[w.name].map { ", " + $0 } ?? "")
        }
        guard !slices.isEmpty else {
            throw PassError.nothingSelected("every selected layer feeds a graph output directly; nothing to shrink")
        }
        return ShrinkTransform(slices: slices, changedValues: changedValues, schemes: reports)
    }

    /// L1 or L2 norm of every index along `axis`.
    static func channelNorms(_ t: Tensor, axis: Int, norm: Prune.Norm) -> [Double] {
        let dims = t.shape.dims
        let d = dims[axis], inner = dims[(axis + 1)...].reduce(1, *)
        var sums = [Double](repeating: 0, count: d)
        var k = 0
        ElementDecoder.forEachChunk(of: t, chunk: 1 << 16) { chunk in
            for v in chunk {
                let c = (k / inner) % d
                sums[c] += norm == .l1 ? abs(v) : v * v
                k += 1
            }
        }
        return norm == .l2 ? sums.map { $0.squareRoot() } : sums
    }

    /// Keeps `indices` (each covering `block` entries) along `axis`.
    static func slice(_ t: Tensor, _ s: Slice) throws -> Tensor {
        let dense = try t.densified()
        var dims = dense.shape.dims
        let d = dims[s.axis], inner = dims[(s.axis + 1)...].reduce(1, *), outer = dims[..<s.axis].reduce(1, *)
        let width = dense.dtype.bits / 8
        let keep = s.indices.flatMap { c in (c * s.block)..<((c + 1) * s.block) }
        dims[s.axis] = keep.count
        let shape = try Shape(dims)
        let row = inner * width
        let buffer = ByteBuffer.build(count: shape.elementCount * width) { out in
            dense.data.withUnsafeBytes { src in
                var o2 = 0
                for o in 0..<outer {
                    for a in keep {
                        (out.baseAddress! + o2 * row).copyMemory(from: src.baseAddress! + (o * d + a) * row, byteCount: row)
                        o2 += 1
                    }
                }
            }
        }
        return try Tensor(name: t.name, dtype: t.dtype, shape: shape, data: TensorData(buffer))
    }

    struct ShrinkTransform: TensorTransform {
        let slices: [String: [Slice]]
        let changedValues: Set<String>
        let schemes: [String: String]

        func transform(_ t: Tensor) throws -> (Tensor, TensorReport?) {
            guard let list = slices[t.name] else { return (t, nil) }
            var out = t
            for s in list { out = try ChannelPruning.slice(out, s) }
            let before = t.doubleValues()
            let signal = before.reduce(0) { $0 + $1 * $1 }
            let after = out.doubleValues()
            let kept = after.reduce(0) { $0 + $1 * $1 }
            let scheme = schemes[t.name] ?? "shrunk"
            let report = TensorReport(name: t.name, scheme: scheme + " \(t.shape) -> \(out.shape)", bytesBefore: t.storedBytes,
                                      bytesAfter: out.storedBytes, elements: t.elementCount, signalEnergy: signal,
                                      errorEnergy: max(0, signal - kept), maxAbsError: 0,
                                      zerosAfter: t.elementCount - after.filter { $0 != 0 }.count)
            return (out, report)
        }

        func outputGraph(_ graph: Graph?) throws -> Graph? {
            guard var g = graph else { return nil }
            // Shapes along the shrunk chains changed; onnxruntime infers them again.
            g.valueInfo.removeAll { changedValues.contains($0.name) }
            g.inputs.removeAll { slices[$0.name] != nil }
            return g
        }
    }

    /// Without a graph: zero the weakest output channels (rows of a PyTorch [out, in] weight).
    struct MaskTransform: TensorTransform {
        let selected: Set<String>
        let keep: Double
        let norm: Prune.Norm
        let roles: [String: WeightRole]

        func transform(_ t: Tensor) throws -> (Tensor, TensorReport?) {
            guard selected.contains(t.name) else { return (t, nil) }
            let axis = (roles[t.name] ?? .outputFirst).channelAxis
            let scores = channelNorms(t, axis: axis, norm: norm)
            let k = max(1, Prune.keepCount(keep, of: scores.count))
            let kept = Set(scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.prefix(k))
            let view = try FloatView(t)
            defer { view.release() }
            let dims = t.shape.dims
            let inner = dims[(axis + 1)...].reduce(1, *), d = dims[axis]
            let mask = (0..<t.elementCount).map { kept.contains(($0 / inner) % d) }
            return try Prune.masked(t, view.values, scheme: "channels kept \(k)/\(d) (\(norm.rawValue), zeroed: no graph)", decision: .mask(mask))
        }
    }
}
