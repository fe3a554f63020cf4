@testable import aicompress
import AICompressCore
import AICompressFormats
import AICompressPasses
import Foundation
import XCTest

/// `--method awq` streams as GPTQ does: asked for the tiny fixture's tensors in file order (as
/// the GGUF writer asks), block i runs at its first tensor (its attn_norm) and not before, and at
/// most one block's tensors wait to be written; what it hands out is the file `quantize` writes.
final class GGUFAWQStreamTests: CLITestCase {
    func testBlocksRunAsTheWriterReachesThem() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf")
        let text = try GGUFAWQCLITests.calibrationText(dir)
        let written = dir + "/awq.gguf"
        let r = try run(["quantize", "--gguf", "Q4_0", "--method", "awq", "--calibration", text, "--calibration-tokens", "16",
                         "--calibration-chunks", "6", "-q", input, written])
        XCTAssertEqual(r.status, 0, r.stderr)
        let file = try ModelIO.read(path: written).model
        let model = try ModelIO.read(path: input).model
        let awq = QuantizeGGUF.AWQ(text: CalibrationText(path: text, tokens: 16, chunks: 6, quiet: true))
        let pass = try QuantizeGGUF(type: "Q4_0", pure: false, tensorTypes: [], awq: awq).pass()
        var types: [String: GGMLType] = [:]
        for p in try pass.plan(model) { if let t = p.decision.type { types[p.decision.name] = t } }
        let calibrated = try XCTUnwrap(pass.calibration).calibrator(model, types)
        // Building the calibrated tensors runs no block (an eager AWQ would have run both here).
        let stream = try XCTUnwrap(calibrated as? QuantizeGGUF.AWQ.StreamedTensors).stream
        XCTAssertEqual(stream.blocksDone, 0)
        var handed = 0, mostWaiting = 0
        for t in model.tensors {
            let got = try calibrated.tensor(named: t.name)
            let parts = t.name.split(separator: ".")
            if parts.first == "blk", let i = Int(parts[1]) {
                XCTAssertEqual(stream.blocksDone, i + 1, "\(t.name): block \(i) runs at its first tensor, block \(i + 1) not yet")
                let replaced = try XCTUnwrap(got, t.name)
                XCTAssertEqual(replaced, file.tensor(named: t.name), "\(t.name): the streamed tensor is the one written")
                handed += 1
            } else {
                XCTAssertNil(got, t.name)
            }
            mostWaiting = max(mostWaiting, stream.waiting)
        }
        // 2 blocks × (7 projections + 2 folded norms); block 0's 8 others wait while its first is written.
        XCTAssertEqual(handed, 18)
        XCTAssertEqual(mostWaiting, 8)
        XCTAssertEqual(stream.waiting, 0)
        XCTAssertEqual(stream.blocksDone, 2)
    }
}
