import AICompressCore
import AICompressFormats
@testable import AICompressPasses
import AICompressTraining
import Foundation
import XCTest

/// GPTQ on the digits MLP against round to nearest on the same grid: the quantized model's
/// logits on held-out rows stay closer to the float model's, and the file decodes to exactly
/// the values GPTQ computed.
final class GPTQDigitsTests: XCTestCase {
    func table(_ name: String) throws -> Dataset {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("demo/\(name)"))))
        return try Dataset.readCSV(bytes, file: name, label: .auto, missing: .error, expectedFeatures: nil)
    }

    func logits(_ model: Model, _ data: Dataset) throws -> [Float] {
        let task = try ModelTask(network: try Network(model: model))
        let x = NDArray(shape: [data.rows, data.featureCount], floats: data.features)
        return try XCTUnwrap(task.network.predict([task.inputName: x]).values.first { $0.isFloat }?.floats)
    }

    func meanSquared(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } / Double(a.count)
    }

    func testGPTQKeepsLogitsCloserThanRoundToNearest() throws {
        let model = try ModelIO.read(path: fixture("demo/mlp-digits.ckpt")).model
        let train = try table("digits-train.csv"), test = try table("digits-test.csv")
        let float = try logits(model, test)
        for (scheme, granularity) in [(QuantizationScheme.int4, Quantize.Granularity.group(32)), (.int4, .perChannel), (.uint4, .group(16)), (.int8, .perChannel)] {
            let base = Quantize(scheme: scheme, granularity: granularity)
            let (rtnModel, _) = try base.apply(model)
            let gptq = GPTQQuantize(base: base, calibration: CalibrationData(dataset: train))
            let (gptqModel, report) = try gptq.apply(model)
            // The weights, and the biases GPTQ refits with them (dense f32, as they were).
            XCTAssertEqual(report.tensors.map(\.name).sorted(), ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"])
            for name in ["fc1.bias", "fc2.bias"] {
                let t = try XCTUnwrap(gptqModel.tensors.first { $0.name == name })
                XCTAssertEqual(t.encoding, .dense, name)
                XCTAssertEqual(report.tensors.first { $0.name == name }?.scheme, "gptq bias refit")
            }
            // Same encodings and sizes as round to nearest.
            for name in ["fc1.weight", "fc2.weight"] {
                let a = try XCTUnwrap(rtnModel.tensors.first { $0.name == name }), b = try XCTUnwrap(gptqModel.tensors.first { $0.name == name })
                XCTAssertEqual(a.encoding, b.encoding, name)
                XCTAssertEqual(a.storedBytes, b.storedBytes, name)
            }
            let eRTN = meanSquared(try logits(rtnModel, test), float), eGPTQ = meanSquared(try logits(gptqModel, test), float)
            // Measured (dense targets and bias refit, BENCHMARKS.md): 0.08x to 0.10x of RTN's for int4.
            XCTAssertLessThan(eGPTQ, 0.8 * eRTN, "\(scheme.id) \(granularity): logit MSE GPTQ \(eGPTQ), RTN \(eRTN)")
        }
    }

    func testEncodedTensorDecodesToTheSweepsValuesBitForBit() throws {
        let model = try ModelIO.read(path: fixture("demo/mlp-digits.ckpt")).model
        let train = try table("digits-train.csv")
        let layers = CalibratedLayer.find(in: model) { _ in true }
        XCTAssertEqual(layers.map(\.weight), ["fc1.weight", "fc2.weight"])
        let batches = try CalibrationData(dataset: train, maxRows: 300).batches(for: model)
        for (scheme, granularity) in [(QuantizationScheme.int4, Quantize.Granularity.group(32)), (.uint8, .perChannel)] {
            let base = Quantize(scheme: scheme, granularity: granularity)
            let storage = try XCTUnwrap(scheme.storage)
            _ = try LayerwiseCalibration(batches: batches, needsGram: true).run(model, layers: layers) { layer, stats, weights in
                let shape = try Shape([layer.outputs, layer.inputs])
                let params = try XCTUnwrap(base.parameters(for: shape, role: .gemmB(transposed: true)))
                let type = IntegerReference.IntegerType(bits: storage.bits, signed: storage.isSigned)
                let grid = IntegerGrid(qmin: storage.qmin, qmax: storage.qmax, groupSize: params.axis == 0 ? 0 : params.blockSize,
                                       rows: layer.outputs, columns: layer.inputs) {
                    IntegerReference.groupScale($0, weights: nil, type: type, symmetric: base.symmetric, clip: base.clip, scaleType: params.scaleType)
                }
                let r = try GPTQ().quantize(weights, rows: layer.outputs, statistics: stats, grid: grid, layer: layer.weight)
                let c = try GPTQQuantize.encoded(layer, shape: shape, params: params, original: weights, result: r, label: "gptq")
                let decoded = try c.tensor.densified().floatValues()
                XCTAssertEqual(decoded.map(\.bitPattern), r.weights.map(\.bitPattern), "\(layer.weight) \(scheme.id)")
                return c
            }
        }
    }
}
