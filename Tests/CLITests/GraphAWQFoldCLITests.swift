import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// `quantize --method awq` through the Flatten fold (the digits CNN) and the attention fold (the
/// encoder): the folds reported, two runs byte-identical, and `apply` of the recipe the same file.
final class GraphAWQFoldCLITests: CLITestCase {
    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func assertFoldsAndReplays(model: String, data: String, args: [String], reported: [String]) throws {
        let dir = try tempDir(), out = dir + "/a.onnx"
        let all = ["quantize"] + args + ["--method", "awq", "--awq-grid", "10", "--calibration", data, "--calibration-rows", "256", model]
        let first = try run(all + [out])
        XCTAssertEqual(first.status, 0, first.stderr)
        for line in reported { XCTAssertTrue(first.stderr.contains(line), "\(line) not in \(first.stderr)") }
        XCTAssertEqual(try run(all + ["-q", dir + "/b.onnx"]).status, 0)
        XCTAssertEqual(try bytes(out), try bytes(dir + "/b.onnx"), "not deterministic")
        let rtn = try run(["quantize", "-q"] + args + [model, dir + "/rtn.onnx"])
        XCTAssertEqual(rtn.status, 0, rtn.stderr)
        XCTAssertNotEqual(try bytes(out), try bytes(dir + "/rtn.onnx"))
        let shown = try run(["recipe", out])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        try shown.stdout.write(to: URL(fileURLWithPath: dir + "/r.yaml"))
        let applied = try run(["apply", "-q", dir + "/r.yaml", model, dir + "/apply.onnx"])
        XCTAssertEqual(applied.status, 0, applied.stderr)
        XCTAssertEqual(try bytes(out), try bytes(dir + "/apply.onnx"), "apply differs from the run")
    }

    func testFlattenFoldOnTheDigitsCNNIsDeterministicAndReplayed() throws {
        try assertFoldsAndReplays(model: fixture("demo/cnn-digits.onnx"), data: fixture("demo/digits-train.csv"), args: ["--int4", "--group-size", "32"],
                                  reported: ["(folded: ÷s of flat_out)", "fc.weight    awq α="])
    }

    func testAttentionFoldOnTheEncoderIsDeterministicAndReplayed() throws {
        try assertFoldsAndReplays(model: fixture("encoder/encoder-init.onnx"), data: fixture("encoder/tokens-train.npz"), args: ["--int8"],
                                  reported: ["encoder.layer.0.attention.self.value.bias      awq (folded: ÷s of reshape_95)",
                                             "encoder.layer.1.attention.output.dense.weight  awq α="])
    }
}
