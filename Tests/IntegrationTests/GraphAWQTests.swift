import AICompressCore
import AICompressFormats
@testable import AICompressPasses
import AICompressTraining
import Foundation
import XCTest

/// AWQ on graph models: the folds alone leave the float model's outputs unchanged (digits MLP,
/// and an ONNX model with BatchNorm, LayerNorm, a MatMul + bias Add and LeakyRelu), the search's
/// losses are the output errors computed from explicit activations, AWQ beats round to nearest
/// where an input channel is an outlier, and the result is deterministic.
final class GraphAWQTests: XCTestCase {
    func table(_ name: String) throws -> Dataset {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("demo/\(name)"))))
        return try Dataset.readCSV(bytes, file: name, label: .auto, missing: .error, expectedFeatures: nil)
    }

    func outputs(_ model: Model, _ x: [Float], rows: Int) throws -> [Float] {
        let task = try ModelTask(network: try Network(model: model))
        let input = NDArray(shape: [rows, x.count / rows], floats: x)
        return try XCTUnwrap(task.network.predict([task.inputName: input]).values.first { $0.isFloat }?.floats)
    }

    func dataset(_ x: [Float], width: Int) -> Dataset {
        Dataset(featureNames: (0..<width).map { "x\($0)" }, features: x, rows: x.count / width)
    }

    /// Deterministic values: the sum of two SplitMix64 uniforms on [-0.5, 0.5), times `scale`.
    func gaussianValues(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var g = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(g.unit() + g.unit() - 1) * scale }
    }

    /// max |a − b| / max |a|.
    func relative(_ a: [Float], _ b: [Float]) -> Double {
        let scale = a.map { Double(abs($0)) }.max() ?? 1
        return zip(a, b).map { Double(abs($0 - $1)) }.max()! / scale
    }

    func tensor(_ name: String, _ shape: [Int], seed: UInt64, scale: Float = 1, offset: Float = 0) throws -> Tensor {
        try Tensor(name: name, shape: Shape(shape), floats: gaussianValues(shape.reduce(1, *), seed: seed, scale: scale).map { $0 + offset })
    }

    /// input[N, 8] → BatchNormalization → fc1 (Gemm, transB) → LayerNormalization → fc2 (Gemm,
    /// transB) → Relu → fc3 (MatMul [16, 12]) → Add(b3) → LeakyRelu → fc4 (Gemm, transB) → out.
    func normModel() throws -> Model {
        let n = [Node(name: "bn", opType: "BatchNormalization", inputs: ["input", "bn.scale", "bn.bias", "bn.mean", "bn.var"], outputs: ["b"]),
                 Node(name: "fc1", opType: "Gemm", inputs: ["b", "fc1.weight", "fc1.bias"], outputs: ["h1"],
                      attributes: [Attribute(name: "transB", value: .int(1))]),
                 Node(name: "ln", opType: "LayerNormalization", inputs: ["h1", "ln.scale", "ln.bias"], outputs: ["l"],
                      attributes: [Attribute(name: "axis", value: .int(-1))]),
                 Node(name: "fc2", opType: "Gemm", inputs: ["l", "fc2.weight", "fc2.bias"], outputs: ["h2"],
                      attributes: [Attribute(name: "transB", value: .int(1))]),
                 Node(name: "relu", opType: "Relu", inputs: ["h2"], outputs: ["a2"]),
                 Node(name: "fc3", opType: "MatMul", inputs: ["a2", "fc3.weight"], outputs: ["m3"]),
                 Node(name: "add3", opType: "Add", inputs: ["m3", "fc3.bias"], outputs: ["h3"]),
                 Node(name: "leaky", opType: "LeakyRelu", inputs: ["h3"], outputs: ["a3"], attributes: [Attribute(name: "alpha", value: .float(0.1))]),
                 Node(name: "fc4", opType: "Gemm", inputs: ["a3", "fc4.weight", "fc4.bias"], outputs: ["out"],
                      attributes: [Attribute(name: "transB", value: .int(1))])]
        let g = Graph(name: "norms", opsets: [OpsetImport(domain: "", version: 17)],
                      inputs: [ValueInfo(name: "input", elemType: 1, shape: [.symbolic("N"), .fixed(8)])],
                      outputs: [ValueInfo(name: "out", elemType: 1, shape: [.symbolic("N"), .fixed(5)])], nodes: n)
        let tensors = [try tensor("bn.scale", [8], seed: 1, offset: 1), try tensor("bn.bias", [8], seed: 2),
                       try tensor("bn.mean", [8], seed: 3), try tensor("bn.var", [8], seed: 4, scale: 0.2, offset: 1),
                       try tensor("fc1.weight", [16, 8], seed: 5), try tensor("fc1.bias", [16], seed: 6),
                       try tensor("ln.scale", [16], seed: 7, scale: 0.5, offset: 1), try tensor("ln.bias", [16], seed: 8),
                       try tensor("fc2.weight", [16, 16], seed: 9), try tensor("fc2.bias", [16], seed: 10, offset: 0.3),
                       try tensor("fc3.weight", [16, 12], seed: 11), try tensor("fc3.bias", [12], seed: 12),
                       try tensor("fc4.weight", [5, 12], seed: 13), try tensor("fc4.bias", [5], seed: 14)]
        return try Model(tensors: tensors, graph: g)
    }

    func testFoldsAloneKeepTheDigitsMLPsOutputs() throws {
        let model = try ModelIO.read(path: fixture("demo/mlp-digits.ckpt")).model
        let train = try table("digits-train.csv"), test = try table("digits-test.csv")
        let awq = GraphAWQQuantize(base: Quantize(scheme: .int4, granularity: .perChannel), calibration: CalibrationData(dataset: train))
        let searches = try awq.search(model)
        XCTAssertEqual(searches.map(\.group.members.first?.weight), ["fc1.weight", "fc2.weight"])
        XCTAssertEqual(searches[0].unscaled, "its input comes from the graph input 'input': nothing to fold 1/s into")
        XCTAssertNil(searches[1].unscaled)
        XCTAssertEqual(searches[1].group.targets, [.rows(tensor: "fc1.weight", outputAxis: 0), .vector(tensor: "fc1.bias")])
        let alpha = try XCTUnwrap(searches[1].alpha)
        XCTAssertGreaterThan(alpha, 0)  // a real fold: the scales are not all 1
        XCTAssertGreaterThan(searches[1].scales.max()! / searches[1].scales.min()!, 2)
        let folded = try GraphAWQQuantize.folded(model, searches: searches)
        XCTAssertNotEqual(folded.tensors.first { $0.name == "fc1.weight" }?.floatValues(), model.tensors.first { $0.name == "fc1.weight" }?.floatValues())
        let a = try outputs(model, test.features, rows: test.rows), b = try outputs(folded, test.features, rows: test.rows)
        XCTAssertLessThan(relative(a, b), 1e-5)
    }

    func testFoldsAloneKeepAnONNXModelWithNormsOutputs() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphawq-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("norms.onnx").path
        try ModelIO.write(try normModel(), to: path, format: .onnx)
        let model = try ModelIO.read(path: path).model
        let x = gaussianValues(300 * 8, seed: 99, scale: 2)
        let data = dataset(x, width: 8)
        let awq = GraphAWQQuantize(base: Quantize(scheme: .int4, granularity: .group(8)), calibration: CalibrationData(dataset: data))
        let searches = try awq.search(model)
        XCTAssertEqual(searches.map(\.group.producer), ["BatchNormalization node 'bn'", "LayerNormalization node 'ln'", "Gemm node 'fc2'", "MatMul node 'fc3'"])
        XCTAssertEqual(searches.map(\.group.targets.count), [2, 2, 2, 2])
        XCTAssertEqual(searches[3].group.targets, [.vector(tensor: "fc3.bias"), .rows(tensor: "fc3.weight", outputAxis: 1)])
        XCTAssertTrue(searches.allSatisfy { $0.unscaled == nil && $0.losses.count == 20 })
        // Every fold with scales far from 1 (0.2 … 5), whatever α the search chose.
        var g = SplitMix64(seed: 5)
        let forced = searches.map { r in
            GraphAWQQuantize.Search(group: r.group, alpha: 0.5, scales: (0..<r.group.columns).map { _ in Float(0.2 * pow(25, g.unit())) },
                                    losses: r.losses, unscaled: nil)
        }
        let folded = try GraphAWQQuantize.folded(model, searches: forced)
        for name in ["bn.scale", "bn.bias", "fc1.weight", "ln.scale", "ln.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias", "fc4.weight"] {
            XCTAssertNotEqual(folded.tensors.first { $0.name == name }?.floatValues(), model.tensors.first { $0.name == name }?.floatValues(), name)
        }
        let a = try outputs(model, x, rows: 300), b = try outputs(folded, x, rows: 300)
        XCTAssertLessThan(relative(a, b), 1e-5)
    }

    /// The loss of every grid point is ‖(W − E)Xᵀ‖² over the explicit activations X of the
    /// layer's input, with s = m^α / sqrt(max · min) computed here from X.
    func testSearchLossIsTheExplicitOutputError() throws {
        let model = try normModel()
        let x = gaussianValues(200 * 8, seed: 7, scale: 2)
        let data = dataset(x, width: 8)
        let base = Quantize(scheme: .int4, granularity: .perChannel)
        let awq = GraphAWQQuantize(base: base, calibration: CalibrationData(dataset: data, batchRows: 64), grid: 5)
        let search = try XCTUnwrap(try awq.search(model).first { $0.group.input == "l" })
        let env = try Network(model: model).forward(["input": NDArray(shape: [200, 8], floats: x)])
        let activations = try XCTUnwrap(env["l"]).floats, n = 16, rows = 200
        let layer = search.group.members[0]
        let w = layer.rowsByOutput(model.tensors.first { $0.name == "fc2.weight" }!.floatValues())
        var mean = [Double](repeating: 0, count: n)
        for r in 0..<rows { for j in 0..<n { mean[j] += Double(abs(activations[r * n + j])) / Double(rows) } }
        XCTAssertEqual(search.losses.count, 5)
        for k in 0..<5 {
            let alpha = Double(k) / 5
            let raw = mean.map { max(pow($0, alpha), 1e-4) }
            let norm = (raw.max()! * raw.min()!).squareRoot()
            let s = raw.map { Float(alpha == 0 ? 1 : $0 / norm) }
            var m = w
            for o in 0..<layer.outputs { for j in 0..<n { m[o * n + j] *= s[j] } }
            let (q, _) = try base.quantize(try Tensor(name: "fc2.weight", shape: Shape([layer.outputs, n]), floats: m), role: .gemmB(transposed: true))
            let deq = try q.densified().floatValues()
            var loss = 0.0
            for r in 0..<rows {
                for o in 0..<layer.outputs {
                    var d = 0.0
                    for j in 0..<n { d += Double(w[o * n + j] - deq[o * n + j] / s[j]) * Double(activations[r * n + j]) }
                    loss += d * d
                }
            }
            XCTAssertEqual(search.losses[k], loss, accuracy: 1e-4 * loss, "α = \(alpha)")
        }
        XCTAssertEqual(search.alpha, Double(search.losses.indices.min { search.losses[$0] < search.losses[$1] }!) / 5)
    }

    /// One input channel of fc2 carries activations ~30× the others: AWQ's output error is well
    /// under round to nearest's (fc2 alone quantized; fc1 folded), and two runs give the same tensors.
    func testAWQBeatsRoundToNearestOnAnOutlierChannelAndIsDeterministic() throws {
        var w1 = gaussianValues(32 * 16, seed: 21)
        for i in 0..<16 { w1[3 * 16 + i] *= 30 }
        let g = Graph(name: "outlier", opsets: [OpsetImport(domain: "", version: 17)],
                      inputs: [ValueInfo(name: "input", elemType: 1, shape: [.symbolic("N"), .fixed(16)])],
                      outputs: [ValueInfo(name: "out", elemType: 1, shape: [.symbolic("N"), .fixed(8)])],
                      nodes: [Node(name: "fc1", opType: "Gemm", inputs: ["input", "fc1.weight", "fc1.bias"], outputs: ["h"],
                                   attributes: [Attribute(name: "transB", value: .int(1))]),
                              Node(name: "relu", opType: "Relu", inputs: ["h"], outputs: ["a"]),
                              Node(name: "fc2", opType: "Gemm", inputs: ["a", "fc2.weight"], outputs: ["out"],
                                   attributes: [Attribute(name: "transB", value: .int(1))])])
        let model = try Model(tensors: [try Tensor(name: "fc1.weight", shape: Shape([32, 16]), floats: w1),
                                        try Tensor(name: "fc1.bias", shape: Shape([32]), floats: [Float](repeating: 0.5, count: 32)),
                                        try tensor("fc2.weight", [8, 32], seed: 22)], graph: g)
        let x = gaussianValues(512 * 16, seed: 23)
        let data = CalibrationData(dataset: dataset(x, width: 16))
        let float = try outputs(model, x, rows: 512)
        func error(_ m: Model) throws -> Double {
            zip(try outputs(m, x, rows: 512), float).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        }
        let only = TensorSelection(include: ["fc2.weight"])
        // Measured: 0.224 per channel, 0.170 in groups of 16.
        for (granularity, bound) in [(Quantize.Granularity.perChannel, 0.3), (.group(16), 0.25)] {
            let base = Quantize(scheme: .int4, granularity: granularity, selection: only)
            let (rtn, _) = try base.apply(model)
            let awq = GraphAWQQuantize(base: base, calibration: data)
            let (a, report) = try awq.apply(model), (b, _) = try awq.apply(model)
            XCTAssertEqual(a.tensors, b.tensors)
            XCTAssertEqual(report.tensors.map(\.name), ["fc1.weight", "fc1.bias", "fc2.weight"])
            let ratio = try error(a) / error(rtn)
            XCTAssertLessThan(ratio, bound, "\(granularity): AWQ / RTN output error \(ratio)")
        }
    }

    /// fc2's weight also read by a second node (a Transpose to a graph output): its columns may not
    /// be scaled, so the group is left unscaled and both outputs are those of plain rounding.
    func testAMemberWeightUsedElsewhereIsNotScaled() throws {
        let g = Graph(name: "shared", opsets: [OpsetImport(domain: "", version: 17)],
                      inputs: [ValueInfo(name: "input", elemType: 1, shape: [.symbolic("N"), .fixed(16)])],
                      outputs: [ValueInfo(name: "out", elemType: 1, shape: [.symbolic("N"), .fixed(8)]),
                                ValueInfo(name: "wt", elemType: 1, shape: [.fixed(32), .fixed(8)])],
                      nodes: [Node(name: "fc1", opType: "Gemm", inputs: ["input", "fc1.weight", "fc1.bias"], outputs: ["h"],
                                   attributes: [Attribute(name: "transB", value: .int(1))]),
                              Node(name: "relu", opType: "Relu", inputs: ["h"], outputs: ["a"]),
                              Node(name: "fc2", opType: "Gemm", inputs: ["a", "fc2.weight"], outputs: ["out"],
                                   attributes: [Attribute(name: "transB", value: .int(1))]),
                              Node(name: "t", opType: "Transpose", inputs: ["fc2.weight"], outputs: ["wt"])])
        let model = try Model(tensors: [try tensor("fc1.weight", [32, 16], seed: 31),
                                        try Tensor(name: "fc1.bias", shape: Shape([32]), floats: [Float](repeating: 0.5, count: 32)),
                                        try tensor("fc2.weight", [8, 32], seed: 32)], graph: g)
        let groups = GraphAWQGroup.find(in: model, layers: CalibratedLayer.find(in: model) { _ in true })
        let fc2 = try XCTUnwrap(groups.first { $0.members.contains { $0.weight == "fc2.weight" } })
        XCTAssertEqual(fc2.unscaled, "'fc2.weight' is also used elsewhere")
        XCTAssertTrue(fc2.targets.isEmpty)
    }
}
