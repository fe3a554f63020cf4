import AICompressCore
import AICompressFormats
import AICompressLLM
import AICompressPasses
import Foundation
import XCTest

@testable import aicompress

/// `quantize --gguf TYPE --method gptq --head gptq|rtn` on the gguf-py LLaMA fixture (2 blocks,
/// embedding 64, vocabulary 32): GPTQ on the output head lowers its calibrated output error
/// against round-to-nearest; every other tensor is byte-identical to the file with the head
/// rounded; the same bytes twice; a head listed first (token_embd of a tied model) is written
/// after the blocks.
final class GGUFGPTQHeadCLITests: CLITestCase {
    /// A text of the fixture's words, one sentence cycled with a drifting offset.
    func calibrationText(_ dir: String) throws -> String { try llamaCalibrationText(dir) }

    func flags(_ text: String) -> [String] {
        ["--method", "gptq", "--calibration", text, "--calibration-tokens", "16", "--calibration-chunks", "6", "-q"]
    }

    func tensors(_ path: String) throws -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: try ModelIO.read(path: path).model.tensors.map { ($0.name, $0) })
    }

    static func same(_ a: Tensor, _ b: Tensor) -> Bool {
        a.encoding == b.encoding && a.shape == b.shape && a.data.withUnsafeBytes { x in b.data.withUnsafeBytes { y in x.elementsEqual(y) } }
    }

    /// Runs `args`, expecting exit 0.
    func ok(_ args: [String]) throws {
        let r = try run(args)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// The file with the head by GPTQ against the one with it rounded: only `head` differs, in
    /// bytes, not in type or size; the same bytes twice; the default's head is `auto`'s method.
    func assertOnlyHeadDiffers(input: String, head: String, extra: [String], dir: String, text: String, auto: String = "gptq") throws {
        try ok(["quantize"] + extra + flags(text) + ["--head", "rtn", input, dir + "/rtn.gguf"])
        try ok(["quantize"] + extra + flags(text) + ["--head", "gptq", input, dir + "/a.gguf"])
        try ok(["quantize"] + extra + flags(text) + ["--head", "gptq", input, dir + "/b.gguf"])
        // The default (auto) is `auto`'s method for this head.
        try ok(["quantize"] + extra + flags(text) + [input, dir + "/auto.gguf"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/auto.gguf")).count,
                       try Data(contentsOf: URL(fileURLWithPath: dir + (auto == "gptq" ? "/a.gguf" : "/rtn.gguf"))).count)
        let automatic = try tensors(dir + "/auto.gguf")[head], chosen = try tensors(dir + (auto == "gptq" ? "/a.gguf" : "/rtn.gguf"))[head]
        XCTAssertTrue(Self.same(try XCTUnwrap(automatic), try XCTUnwrap(chosen)), "--head auto is \(auto) for \(head)")
        try ok(["quantize"] + extra + ["-q", input, dir + "/plain.gguf"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/a.gguf")), try Data(contentsOf: URL(fileURLWithPath: dir + "/b.gguf")))
        let a = try tensors(dir + "/a.gguf"), r = try tensors(dir + "/rtn.gguf"), plain = try tensors(dir + "/plain.gguf")
        XCTAssertEqual(Set(a.keys), Set(r.keys))
        for (name, t) in a where name != head { XCTAssertTrue(Self.same(t, try XCTUnwrap(r[name])), "\(extra) \(name) as with the head rounded") }
        let h = try XCTUnwrap(a[head]), rounded = try XCTUnwrap(r[head])
        XCTAssertFalse(Self.same(h, rounded), "\(extra) \(head) moved by GPTQ")
        XCTAssertEqual(h.encoding, rounded.encoding)
        XCTAssertEqual(h.storedBytes, rounded.storedBytes)
        XCTAssertTrue(Self.same(rounded, try XCTUnwrap(plain[head])), "--head rtn rounds the head as --method rtn does")
    }

    func testOnlyTheHeadChangesAndTheDefaultIsGPTQForOutputWeight() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf"), text = try calibrationText(dir)
        for type in ["Q4_0", "Q4_K_M"] {
            try assertOnlyHeadDiffers(input: input, head: "output.weight", extra: ["--gguf", type], dir: dir, text: text)
            // output.weight is the fixture's last tensor: the order is the input's.
            XCTAssertEqual(try ModelIO.read(path: dir + "/a.gguf").model.tensors.map(\.name),
                           try ModelIO.read(path: input).model.tensors.map(\.name))
        }
        let recipe = try run(["recipe", dir + "/a.gguf"])
        XCTAssertTrue(String(decoding: recipe.stdout, as: UTF8.self).contains("head: gptq"))
        XCTAssertTrue(String(decoding: try run(["recipe", dir + "/auto.gguf"]).stdout, as: UTF8.self).contains("head: auto"))
        let rounded = try run(["recipe", dir + "/rtn.gguf"])
        XCTAssertTrue(String(decoding: rounded.stdout, as: UTF8.self).contains("head: rtn"))
        let wrong = try run(["quantize", "--gguf", "Q4_0", "--head", "gptq", "-q", input, dir + "/x.gguf"])
        XCTAssertEqual(wrong.status, 64, wrong.stderr)
        XCTAssertTrue(wrong.stderr.contains("--head"), wrong.stderr)
    }

    /// A tied model (no output.weight): token_embd is the head, listed first; GPTQ's head is
    /// written after every block, so the stream holds no block for it.
    func testTiedHeadIsWrittenAfterTheBlocks() throws {
        let dir = try tempDir(), text = try calibrationText(dir)
        let full = try ModelIO.read(path: fixture("gguf/llama/tiny-llama.gguf")).model
        let tied = try Model(tensors: full.tensors.filter { $0.name != "output.weight" }, metadata: full.metadata)
        try ModelIO.write(tied, to: dir + "/tied.gguf", format: .gguf)
        let names = tied.tensors.map(\.name)
        XCTAssertEqual(names.first, "token_embd.weight")
        try assertOnlyHeadDiffers(input: dir + "/tied.gguf", head: "token_embd.weight", extra: ["--gguf", "Q4_0"], dir: dir, text: text, auto: "rtn")
        XCTAssertEqual(try ModelIO.read(path: dir + "/a.gguf").model.tensors.map(\.name), Array(names.dropFirst()) + ["token_embd.weight"])
        XCTAssertEqual(try ModelIO.read(path: dir + "/rtn.gguf").model.tensors.map(\.name), names, "--head rtn keeps the order")
    }

    /// Σ over calibration rows of ‖x(W − Ŵ)ᵀ‖²: Σ_r d_rᵀ (XᵀX) d_r for each row d_r of W − Ŵ.
    static func outputError(_ w: [Float], _ q: [Float], rows: Int, columns n: Int, gram: [Double]) -> Double {
        var total = 0.0
        for r in 0..<rows {
            let d = (0..<n).map { Double(w[r * n + $0]) - Double(q[r * n + $0]) }
            for i in 0..<n where d[i] != 0 { for j in 0..<n { total += d[i] * gram[i * n + j] * d[j] } }
        }
        return total
    }

    /// GPTQ's head against round-to-nearest on the statistics it was calibrated on (the final
    /// norm past the GPTQ-quantized blocks, gathered here as the command gathers them); the
    /// command's head is this one, byte for byte.
    func testGPTQLowersTheHeadsCalibratedOutputError() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf"), text = try calibrationText(dir)
        let extra = ["--gguf", "Q4_0", "--tensor-type", "output=Q4_0"]
        try ok(["quantize"] + extra + flags(text) + [input, dir + "/gptq.gguf"])
        try ok(["quantize"] + extra + ["-q", input, dir + "/rtn.gguf"])
        let model = try ModelIO.read(path: input).model
        let pass = try QuantizeGGUF(type: "Q4_0", pure: false, tensorTypes: ["output=Q4_0"]).pass()
        var types: [String: GGMLType] = [:]
        for p in try pass.plan(model) { if let t = p.decision.type { types[p.decision.name] = t } }
        XCTAssertEqual(types["output.weight"], .q4_0)
        let lm = try LanguageModel(beingWritten: model)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: text)))
        let calibration = try LayerwiseDecoderCalibration(model: lm, text: bytes, options: .init(sequenceTokens: 16, maxSequences: 6, gram: true,
                                                                                                               denseTargets: true))
        var statistics: DecoderHeadStatistics?
        let stream = LayerwiseDecoderStream<Tensor>(calibration, blocks: ["output.weight": 2], head: { s in
            statistics = s
            return [:]
        }) { block in try QuantizeGGUF.GPTQ.quantize(block, types: types, damp: 0.01, actOrder: false) }
        XCTAssertNil(try stream.take("output.weight"))
        let s = try XCTUnwrap(statistics), gram = try XCTUnwrap(s.gram)
        XCTAssertEqual(s.rows, 6 * 16)
        let head = try XCTUnwrap(try QuantizeGGUF.GPTQ.quantizeHead(lm, name: "output.weight", type: .q4_0, statistics: s,
                                                                     damp: 0.01, actOrder: false)["output.weight"])
        let written = try XCTUnwrap(try tensors(dir + "/gptq.gguf")["output.weight"])
        XCTAssertTrue(Self.same(head, written), "the command's head is GPTQ on these statistics")
        let w = try XCTUnwrap(model.tensor(named: "output.weight")).floatValues()
        let rounded = try XCTUnwrap(try tensors(dir + "/rtn.gguf")["output.weight"]).floatValues()
        let (rows, n) = (32, 64)
        let gptqError = Self.outputError(w, head.floatValues(), rows: rows, columns: n, gram: gram)
        let rtnError = Self.outputError(w, rounded, rows: rows, columns: n, gram: gram)
        XCTAssertGreaterThan(rtnError, 0)
        XCTAssertLessThan(gptqError / rtnError, 0.8, "GPTQ \(gptqError) against round-to-nearest \(rtnError)")
        // Dense targets reach the head: its objective is the unchanged model's logits,
        // ‖W·X_dense − Q·X‖² = ‖(W* − Q)·X‖² + const with W* = W + W·(ΔᵀX)·H⁻¹ (solved here in
        // Double), on which the command's head beats both round-to-nearest and GPTQ's own fit.
        let cross = try XCTUnwrap(s.cross, "the blocks were quantized: the head's input moved")
        let h = (0..<(n * n)).map { gram[$0] + ($0 % (n + 1) == 0 ? 0.01 * (0..<n).reduce(0) { $0 + gram[$1 * (n + 1)] } / Double(n) : 0) }
        let m = Self.solve(h, n, rightHandSides: cross)   // row k: H⁻¹ times row k of ΔᵀX, i.e. row k of (ΔᵀX)·H⁻¹
        var target = [Float](repeating: 0, count: rows * n)
        for r in 0..<rows {
            for j in 0..<n {
                var v = Double(w[r * n + j])
                for k in 0..<n { v += Double(w[r * n + k]) * m[k * n + j] }
                target[r * n + j] = Float(v)
            }
        }
        let own = DecoderHeadStatistics(columns: s.columns, rows: s.rows, sumSquares: s.sumSquares, gram: s.gram)
        let ownHead = try XCTUnwrap(try QuantizeGGUF.GPTQ.quantizeHead(lm, name: "output.weight", type: .q4_0, statistics: own,
                                                                        damp: 0.01, actOrder: false)["output.weight"])
        let dense = Self.outputError(target, head.floatValues(), rows: rows, columns: n, gram: gram)
        let denseOwn = Self.outputError(target, try ownHead.floatValues(), rows: rows, columns: n, gram: gram)
        let denseRTN = Self.outputError(target, rounded, rows: rows, columns: n, gram: gram)
        XCTAssertLessThan(dense, denseOwn, "dense-target head \(dense) against the own fit's \(denseOwn)")
        XCTAssertLessThan(dense, denseRTN)
    }

    /// X with H·xⱼ = bⱼ for each right-hand side j (`rightHandSides` row j is bⱼ; the result's
    /// row j is xⱼ): Gaussian elimination with partial pivoting in Double.
    static func solve(_ h: [Double], _ n: Int, rightHandSides b: [Double]) -> [Double] {
        let k = b.count / n
        var a = h, x = [Double](repeating: 0, count: n * k)
        for j in 0..<k { for i in 0..<n { x[i * k + j] = b[j * n + i] } }
        for c in 0..<n {
            let p = (c..<n).max { abs(a[$0 * n + c]) < abs(a[$1 * n + c]) }!
            if p != c {
                for j in 0..<n { a.swapAt(c * n + j, p * n + j) }
                for j in 0..<k { x.swapAt(c * k + j, p * k + j) }
            }
            for r in 0..<n where r != c {
                let f = a[r * n + c] / a[c * n + c]
                guard f != 0 else { continue }
                for j in c..<n { a[r * n + j] -= f * a[c * n + j] }
                for j in 0..<k { x[r * k + j] -= f * x[c * k + j] }
            }
        }
        var out = [Double](repeating: 0, count: n * k)
        for i in 0..<n { for j in 0..<k { out[j * n + i] = x[i * k + j] / a[i * n + i] } }
        return out
    }
}
