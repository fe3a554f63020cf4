import AICompressCore
import AICompressFormats
import AICompressLLM
import Foundation
import XCTest

/// GPTQ, SparseGPT and Wanda on phi3's fused attn_qkv and ffn_up through the commands: each is
/// one weight with one input, so the fused file's tensors are, byte for byte, the rows of the
/// same weights stored separately (qwen2, phi3's graph without fusion) stacked as phi3 stacks
/// them; Wanda's mask against a plain reference over `DecoderReference`'s activations; the same
/// bytes twice.
final class Phi3CalibratedCLITests: CLITestCase {
    static let calibration = ["--calibration-tokens", "16", "--calibration-chunks", "6"]

    /// Every tensor of the GGUF at `path`, by name.
    func tensors(_ path: String) throws -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: try ModelIO.read(path: path).model.tensors.map { ($0.name, $0) })
    }

    /// `args` on `input` into `output`, which must succeed.
    func written(_ args: [String], _ input: String, _ output: String) throws -> [String: Tensor] {
        let r = try run(args + [input, output])
        XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
        return try tensors(output)
    }

    /// phi3's tensors against the separate model's: attn_qkv is attn_q, attn_k, attn_v's bytes
    /// one after another, ffn_up is ffn_gate's then ffn_up's, every other tensor the same bytes
    /// and encoding.
    func assertStacked(_ fused: [String: Tensor], _ separate: [String: Tensor], _ what: String) throws {
        XCTAssertEqual(fused.count, separate.count - 6, what)
        for (name, t) in fused {
            let parts: [String]
            if name.hasSuffix(".attn_qkv.weight") {
                let p = name.dropLast("attn_qkv.weight".count)
                parts = ["attn_q", "attn_k", "attn_v"].map { p + $0 + ".weight" }
            } else if name.hasSuffix(".ffn_up.weight") {
                let p = name.dropLast("ffn_up.weight".count)
                parts = [p + "ffn_gate.weight", p + "ffn_up.weight"]
            } else {
                parts = [name]
            }
            let ts = try parts.map { try XCTUnwrap(separate[$0], "\(what): \($0)") }
            XCTAssertEqual(t.data.byteArray, ts.flatMap { $0.data.byteArray }, "\(what): \(name)")
            XCTAssertEqual(t.encoding, ts[0].encoding, "\(what): \(name)")
        }
    }

    /// `quantize --gguf Q4_0 --method gptq` and `prune --method sparsegpt|wanda --pattern 2:4`: the phi3 file is
    /// the separate model's stacked, GPTQ moved the fused weights off RTN's, and a second run
    /// writes the same bytes.
    func testFusedIsTheSeparateModelStacked() throws {
        let dir = try tempDir(), text = try GGUFAWQCLITests.calibrationText(dir)
        let phi3 = try Phi3CLITests.phi3(dir), qwen2 = try Phi3CLITests.phi3(dir, architecture: "qwen2", fuse: false)
        let runs: [(String, [String])] = [
            ("gptq", ["quantize", "--gguf", "Q4_0", "--method", "gptq", "--calibration", text] + Self.calibration),
            ("sparsegpt", ["prune", "--method", "sparsegpt", "--pattern", "2:4", "--calibration", text] + Self.calibration),
            ("wanda", ["prune", "--method", "wanda", "--pattern", "2:4", "--calibration", text] + Self.calibration),
        ]
        for (method, args) in runs {
            let fused = try written(args, phi3, dir + "/\(method)-phi3.gguf")
            try assertStacked(fused, try written(args, qwen2, dir + "/\(method)-qwen2.gguf"), method)
            _ = try written(args, phi3, dir + "/\(method)-again.gguf")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/\(method)-phi3.gguf")),
                           try Data(contentsOf: URL(fileURLWithPath: dir + "/\(method)-again.gguf")), "\(method): deterministic")
            if method == "gptq" {
                XCTAssertEqual(fused["blk.1.attn_qkv.weight"]?.encoding, .ggml(.q4_0))
                XCTAssertEqual(fused["blk.1.ffn_up.weight"]?.encoding, .ggml(.q4_0))
                let rtn = try written(["quantize", "--gguf", "Q4_0"], phi3, dir + "/rtn.gguf")
                for name in ["blk.0.attn_qkv.weight", "blk.1.ffn_up.weight"] {
                    XCTAssertNotEqual(fused[name]?.data.byteArray, rtn[name]?.data.byteArray, "GPTQ moves \(name) off RTN")
                }
            } else {
                // Half of every row (every group of 4) is zero, the fused rows included.
                for name in ["blk.0.attn_qkv.weight", "blk.1.ffn_up.weight"] {
                    let w = try WeightMatrix(try XCTUnwrap(fused[name]))
                    for r in 0..<w.rows { XCTAssertEqual(w.row(r).filter { $0 == 0 }.count, w.columns / 2, "\(method) \(name) row \(r)") }
                }
            }
        }
    }

    /// `prune --method wanda --sparsity 0.5` on phi3: each block's inputs recomputed by the plain
    /// decoder over the model whose earlier blocks are the pruned ones (Σx² per column, in
    /// Double); every row of every stored weight (attn_qkv and ffn_up whole) drops exactly half
    /// its columns, those of smallest |w|·√Σx², and keeps the others' bits.
    func testWandaMaskAgainstAPlainReference() throws {
        let dir = try tempDir(), textPath = try GGUFAWQCLITests.calibrationText(dir)
        let input = try Phi3CLITests.phi3(dir), output = dir + "/wanda.gguf"
        _ = try written(["prune", "--method", "wanda", "--sparsity", "0.5", "--calibration", textPath] + Self.calibration, input, output)
        let original = try ModelIO.read(path: input).model, pruned = try tensors(output)
        let lm = try LanguageModel(model: original)
        let text = Array(try Data(contentsOf: URL(fileURLWithPath: textPath)))
        let sequences = try LayerwiseDecoderCalibration(model: lm, text: text, options: .init(sequenceTokens: 16, maxSequences: 6, gram: false)).sequences
        XCTAssertEqual(sequences.count, 6)
        var checkedRows = 0
        for (i, layer) in lm.decoder.weights.layers.enumerated() {
            var hybrid = try Model(tensors: original.tensors.map { t in
                let earlier = (0..<i).contains { t.name.hasPrefix("blk.\($0).") }
                return earlier ? try XCTUnwrap(pruned[t.name]) : t
            })
            hybrid.metadata = original.metadata
            var sums: [BlockInputStatistics.Group: [Double]] = [:]
            for s in sequences {
                _ = try DecoderReference(try LanguageModel(model: hybrid).decoder).logits(s) { site, x in
                    guard site.layer == i else { return }
                    let g = BlockInputStatistics.Group(site.kind)
                    var acc = sums[g] ?? [Double](repeating: 0, count: x.count)
                    for j in 0..<x.count { acc[j] += Double(x[j]) * Double(x[j]) }
                    sums[g] = acc
                }
            }
            XCTAssertEqual(layer.projections(block: i).map(\.tensorName), ["attn_qkv", "attn_output", "ffn_up", "ffn_down"].map { "blk.\(i).\($0).weight" })
            for site in layer.projections(block: i) {
                let w = layer.matrix(site), s = try XCTUnwrap(sums[BlockInputStatistics.Group(site.kind)])
                let got = try WeightMatrix(try XCTUnwrap(pruned[site.tensorName]))
                XCTAssertEqual(got.shape, w.shape)
                for r in 0..<w.rows {
                    let row = w.row(r), kept = got.row(r)
                    let order = (0..<w.columns).sorted { abs(Double(row[$0])) * s[$0].squareRoot() < abs(Double(row[$1])) * s[$1].squareRoot() }
                    let dropped = Set(order.prefix(w.columns / 2))
                    for j in 0..<w.columns {
                        XCTAssertEqual(kept[j].bitPattern, dropped.contains(j) ? 0 : row[j].bitPattern, "\(site.tensorName) [\(r), \(j)]")
                    }
                    checkedRows += 1
                }
            }
        }
        // 2 blocks × (128 qkv + 64 output + 192 gate/up + 64 down) rows.
        XCTAssertEqual(checkedRows, 2 * (64 + 2 * 32 + 64 + 2 * 96 + 64))
    }
}
