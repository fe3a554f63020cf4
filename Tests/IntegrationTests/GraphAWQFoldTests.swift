import AICompressCore
import AICompressFormats
@testable import AICompressPasses
import AICompressTraining
import Foundation
import XCTest

/// AWQ's folds through a Flatten into a convolution (the digits CNN: Conv → Relu → MaxPool →
/// Flatten → Gemm, one scale per channel tied over its 16 columns) and through attention's
/// softmax(QKᵀ)·V into the value projection (the BERT-class encoder: Reshape/Transpose into
/// heads and back): the folds alone leave the float model's outputs unchanged, the searched
/// losses are the output errors of explicit activations, AWQ beats round to nearest on an outlier
/// channel, and a graph whose channels would arrive moved is left unscaled.
final class GraphAWQFoldTests: XCTestCase {
    func cnn() throws -> Model { try ModelIO.read(path: fixture("demo/cnn-digits.onnx")).model }
    func encoder() throws -> Model { try ModelIO.read(path: fixture("encoder/encoder-init.onnx")).model }

    func digits(_ name: String) throws -> Dataset {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("demo/\(name)"))))
        return try Dataset.readCSV(bytes, file: name, label: .auto, missing: .error, expectedFeatures: nil)
    }

    func tokens(_ name: String) throws -> Dataset {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture("encoder/\(name)")))
        return try bytes.withUnsafeBytes { try Dataset.named(try NPZ.read($0, file: name), label: nil, file: name) }
    }

    /// The first graph output on every batch of `data`, concatenated.
    func outputs(_ model: Model, _ data: CalibrationData) throws -> [Float] {
        let network = try Network(model: model), name = try XCTUnwrap(model.graph?.outputs.first?.name)
        return try data.batches(for: model).flatMap { try XCTUnwrap(network.forward($0)[name]).floats }
    }

    /// `value` on every batch of `data`, concatenated.
    func activations(_ model: Model, _ value: String, _ data: CalibrationData) throws -> [Float] {
        let network = try Network(model: model)
        return try data.batches(for: model).flatMap { try XCTUnwrap(network.forward($0)[value]).floats }
    }

    /// max |a − b| / max |a|.
    func relative(_ a: [Float], _ b: [Float]) -> Double {
        XCTAssertEqual(a.count, b.count)
        let scale = a.map { Double(abs($0)) }.max() ?? 1
        return zip(a, b).map { Double(abs($0 - $1)) }.max()! / scale
    }

    func squaredError(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } }

    /// Every scaled search with scales far from 1 (0.2 … 5, one per channel, tied as the group is).
    func forced(_ searches: [GraphAWQQuantize.Search], seed: UInt64) -> [GraphAWQQuantize.Search] {
        var g = SplitMix64(seed: seed)
        return searches.map { r in
            guard r.unscaled == nil else { return r }
            let channel = (0..<r.group.channels).map { _ in Float(0.2 * pow(25, g.unit())) }
            return GraphAWQQuantize.Search(group: r.group, alpha: 0.5, scales: (0..<r.group.columns).map { channel[$0 / r.group.tie] },
                                           losses: r.losses, unscaled: nil)
        }
    }

    func tensor(_ model: Model, _ name: String) -> [Float]? { model.tensors.first { $0.name == name }?.floatValues() }

    func testFlattenFoldKeepsTheDigitsCNNsOutputs() throws {
        let model = try cnn(), train = CalibrationData(dataset: try digits("digits-train.csv"))
        let awq = GraphAWQQuantize(base: Quantize(scheme: .int4, granularity: .group(32)), calibration: train)
        let searches = try awq.search(model)
        XCTAssertEqual(searches.count, 1)
        let r = searches[0]
        XCTAssertNil(r.unscaled)
        XCTAssertEqual(r.group.producer, "Conv node 'conv'")
        XCTAssertEqual(r.group.targets, [.kernel(tensor: "conv.weight"), .vector(tensor: "conv.bias")])
        XCTAssertEqual(r.group.tie, 16)
        XCTAssertEqual(r.group.channels, 8)
        XCTAssertGreaterThan(try XCTUnwrap(r.alpha), 0)
        // One scale per channel: the 16 columns of channel c (c·16 …) share it.
        for c in 0..<8 { XCTAssertEqual(Set(r.scales[(c * 16)..<(c * 16 + 16)]).count, 1, "channel \(c)") }
        XCTAssertGreaterThan(r.scales.max()! / r.scales.min()!, 1.5)
        let test = CalibrationData(dataset: try digits("digits-test.csv"))
        let float = try outputs(model, test)
        for searches in [searches, forced(searches, seed: 3)] {
            let folded = try GraphAWQQuantize.folded(model, searches: searches)
            for name in ["conv.weight", "conv.bias", "fc.weight"] { XCTAssertNotEqual(tensor(folded, name), tensor(model, name), name) }
            XCTAssertLessThan(relative(float, try outputs(folded, test)), 1e-5)
        }
    }

    func testAttentionFoldKeepsTheEncodersOutputs() throws {
        let model = try encoder(), train = CalibrationData(dataset: try tokens("tokens-train.npz"), maxRows: 256)
        let awq = GraphAWQQuantize(base: Quantize(scheme: .int4, granularity: .perChannel), calibration: train)
        let searches = try awq.search(model)
        let folds = searches.filter { $0.unscaled == nil }
        XCTAssertEqual(folds.map(\.group.input), ["reshape_95", "reshape_171"])
        XCTAssertEqual(folds.map(\.group.producer), ["MatMul node 'matmul_69_node'", "MatMul node 'matmul_146_node'"])
        for (r, layer) in zip(folds, [0, 1]) {
            let v = "encoder.layer.\(layer).attention.self.value"
            XCTAssertEqual(r.group.members.map(\.weight), ["encoder.layer.\(layer).attention.output.dense.weight"])
            XCTAssertEqual(r.group.targets, [.vector(tensor: v + ".bias"), .rows(tensor: v + ".weight", outputAxis: 1)])
            XCTAssertEqual(r.group.tie, 1)
        }
        // The probabilities' rank is not fixed by the graph: the proof's assumption is checked on the data.
        XCTAssertEqual(folds.map(\.group.ranks), [["softmax_90": 2], ["softmax_166": 2]])
        let test = CalibrationData(dataset: try tokens("tokens-test.npz"))
        let float = try outputs(model, test)
        for searches in [searches, forced(searches, seed: 4)] {
            let folded = try GraphAWQQuantize.folded(model, searches: searches)
            for name in ["encoder.layer.0.attention.self.value.weight", "encoder.layer.1.attention.self.value.bias",
                         "encoder.layer.1.attention.output.dense.weight"] {
                XCTAssertNotEqual(tensor(folded, name), tensor(model, name), name)
            }
            XCTAssertLessThan(relative(float, try outputs(folded, test)), 1e-5)
        }
    }

    /// The loss of every grid point is ‖(W − E)Xᵀ‖² over the explicit activations X of the input,
    /// with s = m^α / sqrt(max · min) from X, m averaged over a channel's columns where tied.
    func assertLossesAreExplicit(_ model: Model, input: String, tie: Int, data: CalibrationData, base: Quantize) throws {
        let awq = GraphAWQQuantize(base: base, calibration: data, grid: 5)
        let search = try XCTUnwrap(try awq.search(model).first { $0.group.input == input })
        XCTAssertNil(search.unscaled)
        XCTAssertEqual(search.group.tie, tie)
        let layer = search.group.members[0], n = layer.inputs
        let x = try activations(model, input, data), rows = x.count / n
        let original = try XCTUnwrap(model.tensors.first { $0.name == layer.weight })
        let w = layer.rowsByOutput(original.floatValues())
        var column = [Double](repeating: 0, count: n)
        for r in 0..<rows { for j in 0..<n { column[j] += Double(abs(x[r * n + j])) / Double(rows) } }
        let mean = (0..<n).map { j in (0..<tie).map { column[j / tie * tie + $0] }.reduce(0, +) / Double(tie) }
        let role = WeightRole.roles(in: model.graph)[layer.weight] ?? .outputFirst
        for k in 0..<5 {
            let alpha = Double(k) / 5
            let raw = mean.map { max(pow($0, alpha), 1e-4) }
            let norm = (raw.max()! * raw.min()!).squareRoot()
            let s = raw.map { Float(alpha == 0 ? 1 : $0 / norm) }
            var m = w
            for o in 0..<layer.outputs { for j in 0..<n { m[o * n + j] *= s[j] } }
            let (q, _) = try base.quantize(try Tensor(name: layer.weight, shape: original.shape, floats: layer.storedOrder(m)), role: role)
            let deq = layer.rowsByOutput(try q.densified().floatValues())
            var loss = 0.0
            for r in 0..<rows {
                for o in 0..<layer.outputs {
                    var d = 0.0
                    for j in 0..<n { d += Double(w[o * n + j] - deq[o * n + j] / s[j]) * Double(x[r * n + j]) }
                    loss += d * d
                }
            }
            XCTAssertEqual(search.losses[k], loss, accuracy: 1e-4 * loss, "\(input): α = \(alpha)")
        }
        XCTAssertEqual(search.alpha, Double(search.losses.indices.min { search.losses[$0] < search.losses[$1] }!) / 5)
    }

    func testSearchLossIsTheExplicitOutputErrorThroughFlattenAndAttention() throws {
        try assertLossesAreExplicit(try cnn(), input: "flat_out", tie: 16, data: CalibrationData(dataset: try digits("digits-train.csv"), maxRows: 300, batchRows: 128),
                                    base: Quantize(scheme: .int4, granularity: .group(32)))
        try assertLossesAreExplicit(try encoder(), input: "reshape_171", tie: 1, data: CalibrationData(dataset: try tokens("tokens-train.npz"), maxRows: 200, batchRows: 64),
                                    base: Quantize(scheme: .int4, granularity: .perChannel))
    }

    /// `model` with channel `c` of the producer multiplied by 30 and the member's columns of it
    /// divided by 30: the same float function, an input channel ~30× the others. The member's
    /// input columns run along `inputAxis` of its 2-D weight; `columns` tells channel c's.
    func outlier(_ model: Model, producer: [String], channel c: Int, channels: Int, member: String, inputAxis: Int,
                 columns: (Int) -> Bool) throws -> Model {
        let tensors = try model.tensors.map { t -> Tensor in
            var v = t.floatValues()
            if producer.contains(t.name) {
                let inner = t.elementCount / channels, last = t.shape.dims.last!
                // A kernel / bias: channel along axis 0; a MatMul weight [in, out]: along axis 1.
                for e in v.indices where (t.shape.rank == 2 ? e % last : e / inner) == c { v[e] *= 30 }
            } else if t.name == member {
                let d = t.shape.dims[1]
                for e in v.indices where columns(inputAxis == 0 ? e / d : e % d) { v[e] /= 30 }
            } else { return t }
            return try Tensor(name: t.name, shape: t.shape, floats: v)
        }
        return try Model(tensors: tensors, metadata: model.metadata, graph: model.graph)
    }

    /// AWQ's output error against round to nearest's, the member alone rounded; two runs equal.
    func ratio(_ model: Model, member: String, data: CalibrationData, test: CalibrationData, granularity: Quantize.Granularity) throws -> Double {
        let float = try outputs(model, test)
        let base = Quantize(scheme: .int4, granularity: granularity, selection: TensorSelection(include: [member]))
        let (rtn, _) = try base.apply(model)
        let awq = GraphAWQQuantize(base: base, calibration: data)
        let (a, _) = try awq.apply(model), (b, _) = try awq.apply(model)
        XCTAssertEqual(a.tensors, b.tensors, "not deterministic")
        return squaredError(try outputs(a, test), float) / squaredError(try outputs(rtn, test), float)
    }

    func testAWQBeatsRoundToNearestOnAnOutlierChannelThroughFlattenAndAttention() throws {
        let cnnModel = try outlier(try cnn(), producer: ["conv.weight", "conv.bias"], channel: 3, channels: 8, member: "fc.weight", inputAxis: 1) { $0 / 16 == 3 }
        let digitsTrain = CalibrationData(dataset: try digits("digits-train.csv")), digitsTest = CalibrationData(dataset: try digits("digits-test.csv"))
        XCTAssertLessThan(relative(try outputs(try cnn(), digitsTest), try outputs(cnnModel, digitsTest)), 1e-5)
        // Measured: 0.065 per channel, 0.074 in groups of 32; the encoder's 0.033.
        for granularity in [Quantize.Granularity.perChannel, .group(32)] {
            let r = try ratio(cnnModel, member: "fc.weight", data: digitsTrain, test: digitsTest, granularity: granularity)
            XCTAssertLessThan(r, 0.15, "CNN \(granularity): AWQ / RTN output error \(r)")
        }
        let v = "encoder.layer.1.attention.self.value", o = "encoder.layer.1.attention.output.dense.weight"
        let encoderModel = try outlier(try encoder(), producer: [v + ".weight", v + ".bias"], channel: 5, channels: 16, member: o, inputAxis: 0) { $0 == 5 }
        let tokensTrain = CalibrationData(dataset: try tokens("tokens-train.npz"), maxRows: 256)
        let tokensTest = CalibrationData(dataset: try tokens("tokens-test.npz"))
        XCTAssertLessThan(relative(try outputs(try encoder(), tokensTest), try outputs(encoderModel, tokensTest)), 1e-5)
        let r = try ratio(encoderModel, member: o, data: tokensTrain, test: tokensTest, granularity: .perChannel)
        XCTAssertLessThan(r, 0.1, "encoder: AWQ / RTN output error \(r)")
    }

    /// Channels that would arrive moved (heads merged back in another order; NCHW flattened as
    /// NHWC): the models still run, and the groups are left unscaled with the node that moves them.
    func testFoldsThatWouldMoveChannelsAreRefused() throws {
        var model = try encoder()
        var graph = try XCTUnwrap(model.graph)
        let t = try XCTUnwrap(graph.nodes.firstIndex { $0.name == "transpose_92_node" })
        graph.nodes[t].attributes = [Attribute(name: "perm", value: .ints([0, 2, 3, 1]))]
        model = try Model(tensors: model.tensors, metadata: model.metadata, graph: graph)
        let train = CalibrationData(dataset: try tokens("tokens-train.npz"), maxRows: 64)
        let awq = GraphAWQQuantize(base: Quantize(scheme: .int4, granularity: .perChannel), calibration: train)
        let searches = try awq.search(model)
        XCTAssertEqual(searches.first { $0.group.input == "reshape_95" }?.unscaled, "Reshape node 'reshape_95_node' reshapes a value whose channels are not its trailing axes")
        XCTAssertNil(searches.first { $0.group.input == "reshape_171" }?.unscaled)

        var c = try cnn()
        var g = try XCTUnwrap(c.graph)
        let f = try XCTUnwrap(g.nodes.firstIndex { $0.opType == "Flatten" })
        g.nodes[f].inputs = ["nhwc"]
        g.nodes.insert(Node(name: "nhwc", opType: "Transpose", inputs: ["pool_out"], outputs: ["nhwc"],
                            attributes: [Attribute(name: "perm", value: .ints([0, 2, 3, 1]))]), at: f)
        c = try Model(tensors: c.tensors, metadata: c.metadata, graph: g)
        let digitsTrain = CalibrationData(dataset: try digits("digits-train.csv"), maxRows: 64)
        let r = try GraphAWQQuantize(base: Quantize(scheme: .int4, granularity: .group(32)), calibration: digitsTrain).search(c)
        XCTAssertEqual(r.map(\.unscaled), ["Flatten node 'flatten' does not start its columns at the channel axes"])
        XCTAssertEqual(try outputs(c, digitsTrain).count, 64 * 10)
    }
}
