import AICompressCore
import AICompressFormats
@testable import AICompressPasses
import AICompressTraining
import Foundation
import XCTest

/// `CalibratedPrune` with `scope` global on the digits MLP (fc1 2,048 + fc2 320 weights): the
/// layers together keep exactly round(keep × 2,368), split as `SparsityAllocation` says over
/// curves whose points are the relative output errors computed here the plain way; the same
/// input gives the same bits; and at 80% the allocated split beats the uniform one on test rows.
final class GlobalCalibratedPruneTests: XCTestCase {
    func table(_ name: String) throws -> Dataset {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("demo/\(name)"))))
        return try Dataset.readCSV(bytes, file: name, label: .auto, missing: .error, expectedFeatures: nil)
    }

    func accuracy(_ model: Model, _ data: Dataset) throws -> Double {
        let task = try ModelTask(network: try Network(model: model))
        let x = NDArray(shape: [data.rows, data.featureCount], floats: data.features)
        let logits = try XCTUnwrap(task.network.predict([task.inputName: x]).values.first { $0.isFloat }?.floats)
        var correct = 0
        for r in 0..<data.rows {
            let row = logits[(r * 10)..<(r * 10 + 10)]
            if row.firstIndex(of: row.max()!)! - r * 10 == Int(try XCTUnwrap(data.targets)[r]) { correct += 1 }
        }
        return Double(correct) / Double(data.rows)
    }

    func zeros(_ model: Model, _ name: String) throws -> Int {
        try XCTUnwrap(model.tensors.first { $0.name == name }).densified().floatValues().filter { $0 == 0 }.count
    }

    func testGlobalKeepsTheExactTotalSplitByTheCurves() throws {
        let model = try ModelIO.read(path: fixture("demo/mlp-digits.ckpt")).model
        let train = try table("digits-train.csv")
        let data = CalibrationData(dataset: train, maxRows: 400)
        let layers = CalibratedLayer.find(in: model) { _ in true }
        for method in CalibratedPrune.Method.allCases {
            for keep in [0.1, 0.3] {
                let pass = CalibratedPrune(method: method, pattern: .unstructured(fraction: 1 - keep), calibration: data, scope: .global)
                let run = LayerwiseCalibration(batches: try data.batches(for: model), needsGram: method == .sparsegpt)
                let removals = try pass.removals(model, layers: layers, run: run)
                let kept = Int((keep * 2368).rounded())
                XCTAssertEqual(2368 - removals.values.reduce(0, +), kept, "\(method) \(keep)")
                let pruned = try pass.apply(model).0
                for name in ["fc1.weight", "fc2.weight"] {
                    XCTAssertEqual(try zeros(pruned, name), removals[name], "\(method) \(keep) \(name)")
                }
                XCTAssertTrue(pass.stepDescription.contains("scope=global"), pass.stepDescription)
                guard keep == 0.1 else { continue }
                let again = try pass.apply(model).0
                for (a, b) in zip(pruned.tensors, again.tensors) { XCTAssertEqual(a.data.withUnsafeBytes { Array($0) }, b.data.withUnsafeBytes { Array($0) }, a.name) }
            }
        }
    }

    /// The curves against the plain definition: ‖(W−Ŵ)X‖²_H / ‖WX‖²_H from the explicit
    /// damped Hessian for SparseGPT, Σ_removed w²Σx² / Σ w²Σx² for Wanda.
    func testCurvesAreTheRelativeOutputErrors() throws {
        let model = try ModelIO.read(path: fixture("demo/mlp-digits.ckpt")).model
        let data = CalibrationData(dataset: try table("digits-train.csv"), maxRows: 300)
        let layers = CalibratedLayer.find(in: model) { _ in true }
        for method in CalibratedPrune.Method.allCases {
            let pass = CalibratedPrune(method: method, pattern: .unstructured(fraction: 0.9), calibration: data, scope: .global)
            let run = LayerwiseCalibration(batches: try data.batches(for: model), needsGram: true)
            try run.visit(model, layers: layers) { layer, stats, w in
                let curve = try pass.curve(w, rows: layer.outputs, statistics: stats, layer: layer.weight)
                XCTAssertEqual(curve.kept, SparsityAllocation.gridCounts(weights: w.count))
                XCTAssertEqual(curve.errors.last, 0)
                let n = layer.inputs
                let h = HessianFactor.damped(gram: stats.symmetricGram, columns: n, dampFraction: 0.01)
                func quadratic(_ d: [Double]) -> Double {
                    var q = 0.0
                    for r in 0..<layer.outputs {
                        for i in 0..<n where !h.dead.contains(i) {
                            for j in 0..<n where !h.dead.contains(j) { q += d[r * n + i] * h.hessian[i * n + j] * d[r * n + j] }
                        }
                    }
                    return q
                }
                let s = stats.sumOfSquares
                let energy = method == .sparsegpt ? quadratic(w.map(Double.init))
                    : w.indices.reduce(0.0) { $0 + Double(w[$1]) * Double(w[$1]) * s[$1 % n] }
                for (k, e) in zip(curve.kept, curve.errors) where k % 3 == 0 && k < w.count {
                    let (v, keep, _) = try pass.prune(w, rows: layer.outputs, statistics: stats, removing: w.count - k, layer: layer.weight)
                    XCTAssertEqual(keep.filter { $0 }.count, k)
                    let plain = method == .sparsegpt ? quadratic(zip(w, v).map { Double($0) - Double($1) }) / energy
                        : w.indices.reduce(0.0) { $0 + (keep[$1] ? 0 : Double(w[$1]) * Double(w[$1]) * s[$1 % n]) } / energy
                    XCTAssertEqual(e, plain, accuracy: 1e-6 + 1e-4 * plain, "\(method) \(layer.weight) k \(k)")
                }
            }
        }
    }

    func testGlobalBeatsUniformAtEightyPercent() throws {
        let model = try ModelIO.read(path: fixture("demo/mlp-digits.ckpt")).model
        let data = CalibrationData(dataset: try table("digits-train.csv"))
        let test = try table("digits-test.csv")
        let uniform = CalibratedPrune(method: .sparsegpt, pattern: .unstructured(fraction: 0.8), calibration: data)
        let global = CalibratedPrune(method: .sparsegpt, pattern: .unstructured(fraction: 0.8), calibration: data, scope: .global)
        let a = try accuracy(try uniform.apply(model).0, test), b = try accuracy(try global.apply(model).0, test)
        // Measured (BENCHMARKS.md, dense targets and bias refit): 88.44% uniform, 94.00% with the
        // allocated split. Without the refit they were 66.22% and 91.78%.
        XCTAssertEqual(a, 398.0 / 450, accuracy: 0.5 / 450)
        XCTAssertEqual(b, 423.0 / 450, accuracy: 0.5 / 450)
    }

    /// 90% sparsity (issue 18's target): the biases are refitted (their reports say so), and
    /// the accuracy is the benchmark's (78.67%; 56.67% with the paper's own-output fit).
    func testNinetyPercentRefitsTheBiases() throws {
        let model = try ModelIO.read(path: fixture("demo/mlp-digits.ckpt")).model
        let data = CalibrationData(dataset: try table("digits-train.csv"))
        let pass = CalibratedPrune(method: .sparsegpt, pattern: .unstructured(fraction: 0.9), calibration: data, scope: .global)
        let (out, report) = try pass.apply(model)
        XCTAssertEqual(try accuracy(out, try table("digits-test.csv")), 354.0 / 450, accuracy: 0.5 / 450)
        for name in ["fc1.bias", "fc2.bias"] {
            let r = try XCTUnwrap(report.tensors.first { $0.name == name }, name)
            XCTAssertEqual(r.scheme, "sparsegpt sparsity 0.9 bias refit")
            XCTAssertNotEqual(try out.tensor(named: name)!.floatValues(), try model.tensor(named: name)!.floatValues(), name)
        }
        let kept = try ["fc1.weight", "fc2.weight"].map { try out.tensor(named: $0)!.floatValues().filter { $0 != 0 }.count }
        XCTAssertEqual(kept, [157, 80])
    }
}
