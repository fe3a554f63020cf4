import Foundation
import XCTest

/// `train`, `evaluate` and `predict` on an encoder's .npz data through the binary
/// (fixtures/encoder, made by make_encoder_fixtures.py): the tiny encoder trains one epoch, and
/// each refusal is one line with its exit code and nothing written.
final class EncoderTrainCLITests: CLITestCase {
    func testTrainsTheTinyEncoderFromAnNPZ() throws {
        let dir = try tempDir()
        let out = dir + "/t.onnx"
        let r = try run(["train", fixture("encoder/encoder-tiny.onnx"), "--data", fixture("encoder/tokens-tiny.npz"), "--epochs", "1", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        // 41 tensors: every float initializer but the 14 scalar constants
        XCTAssertTrue(r.stderr.hasPrefix("trained 1,410 parameters in 41 tensors: 1 epochs, 1 steps"), r.stderr)
        let p = try run(["predict", out, "--data", fixture("encoder/tokens-tiny.npz")])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertEqual(p.text.split(separator: "\n").first, "logits_0,logits_1")
        XCTAssertEqual(p.text.split(separator: "\n").count, 7)
    }

    func testRefusals() throws {
        let dir = try tempDir()
        let model = fixture("encoder/encoder-tiny.onnx"), tokens = fixture("encoder/tokens-tiny.npz")
        let csv = try run(["train", model, "--data", fixture("demo/digits-test.csv"), "--epochs", "1", dir + "/a.onnx"])
        XCTAssertEqual(csv.status, 65, csv.stderr)
        XCTAssertEqual(csv.stderr, "aicompress: error: \(model): the model has 3 data inputs (input_ids, attention_mask, token_type_ids); feed them from an .npz with one array per input name\n")
        let label = try run(["train", model, "--data", tokens, "--label", "y", "--epochs", "1", dir + "/b.onnx"])
        XCTAssertEqual(label.status, 65, label.stderr)
        XCTAssertEqual(label.stderr, "aicompress: error: \(tokens): has no array 'y' for the labels (arrays: input_ids, attention_mask, token_type_ids, label)\n")
        let labels = try run(["train", model, "--data", tokens, "--labels", tokens, "--epochs", "1", dir + "/c.onnx"])
        XCTAssertEqual(labels.status, 64, labels.stderr)
        let standardize = try run(["train", model, "--data", tokens, "--standardize", "--epochs", "1", dir + "/d.onnx"])
        XCTAssertEqual(standardize.status, 65, standardize.stderr)
        XCTAssertTrue(standardize.stderr.contains("`standardize` works on a feature table"), standardize.stderr)
        for f in ["a", "b", "c", "d"] { XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/\(f).onnx")) }
    }
}
