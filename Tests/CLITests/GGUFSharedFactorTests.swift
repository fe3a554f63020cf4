import AICompressCore
import AICompressFormats
import AICompressLLM
import AICompressPasses
import Foundation
import XCTest

@testable import aicompress

/// GPTQ into GGUF and SparseGPT on language models factor each block input's Hessian once
/// (q/k/v share the attention norm's output, gate/up the FFN norm's: 4 factors a block, not 7),
/// and the bytes are those of one factor per projection: against `GGMLGPTQ`'s per-matrix path on
/// the same statistics, and against digests of the files main's binary (commit 1b44d50, one
/// factor per projection for GPTQ) wrote on the gguf-py LLaMA fixture.
final class GGUFSharedFactorTests: CLITestCase {
    /// SHA-256 over every tensor's name and stored bytes, in file order (the metadata names the
    /// calibration file's path, which differs from run to run).
    func tensorDigest(_ path: String) throws -> String {
        var sha = SHA256()
        for t in try ModelIO.read(path: path).model.tensors {
            sha.update(Array(t.name.utf8))
            t.data.withUnsafeBytes { sha.update($0) }
        }
        return sha.finalizeHex()
    }

    func calibration(_ text: String) throws -> (Model, LanguageModel, LayerwiseDecoderCalibration) {
        let model = try ModelIO.read(path: fixture("gguf/llama/tiny-llama.gguf")).model
        let lm = try LanguageModel(beingWritten: model)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: text)))
        return (model, lm, try LayerwiseDecoderCalibration(model: lm, text: bytes, options: .init(sequenceTokens: 16, maxSequences: 6, gram: true)))
    }

    /// Every block: 4 factorizations for 7 projections, and each projection's bytes equal to
    /// GPTQ on its own factor (`GGMLGPTQ.quantize(gram:)`), with and without act-order, with
    /// one type for all and with a different type for each projection of a group.
    func testGPTQFactorsEachInputOncePerBlockWithThePerProjectionBytes() throws {
        let dir = try tempDir(), (_, _, calibration) = try calibration(try llamaCalibrationText(dir))
        let mixed: [ActivationSite.Kind: GGMLType] = [.query: .q4_0, .key: .q8_0, .value: .q5_1, .output: .q4_1,
                                                      .gate: .q5_0, .up: .q4_0, .down: .q8_0]
        let cases: [(String, (ActivationSite.Kind) -> GGMLType, Bool)] = [
            ("Q4_0", { _ in .q4_0 }, false), ("Q4_0 act-order", { _ in .q4_0 }, true), ("mixed act-order", { mixed[$0]! }, true),
        ]
        for (label, typeOf, actOrder) in cases {
            var types: [String: GGMLType] = [:]
            for i in 0..<2 { for kind in ActivationSite.Kind.allCases { types[ActivationSite(layer: i, kind: kind).tensorName] = typeOf(kind) } }
            var blocks = 0
            try calibration.run { block in
                var factors = QuantizeGGUF.GPTQ.Factors()
                let before = block.statistics  // the quantizer releases each input's matrices after its last reader
                let (weights, items) = try QuantizeGGUF.GPTQ.quantize(block, types: types, damp: 0.01, actOrder: actOrder, factors: &factors)
                XCTAssertEqual(factors.factorizations, 4, "\(label), block \(block.index): one factor per input")
                XCTAssertEqual(before.values.filter { $0.gram != nil }.count, 4, label)
                XCTAssertTrue(block.statistics.values.allSatisfy { $0.gram == nil && $0.cross == nil }, "\(label): every XᵀX released")
                XCTAssertEqual(block.statistics.mapValues(\.sumSquares), before.mapValues(\.sumSquares), label)
                XCTAssertEqual(items.count, 7, label)
                for kind in ActivationSite.Kind.allCases {
                    let name = block.tensorName(kind), w = block.weights(kind)
                    let stats = try XCTUnwrap(before[BlockInputStatistics.Group(kind)]), gram = try XCTUnwrap(stats.gram)
                    var values = [Float](repeating: 0, count: w.rows * w.columns)
                    values.withUnsafeMutableBufferPointer { w.decodeRows(0..<w.rows, into: $0.baseAddress!) }
                    let own = try GGMLGPTQ(type: typeOf(kind), dampFraction: 0.01, actOrder: actOrder)
                        .quantize(values, rows: w.rows, columns: w.columns, gram: gram, importance: stats.meanSquares, layer: name)
                    let shared = try XCTUnwrap(items[name])
                    XCTAssertTrue(shared.data.withUnsafeBytes { $0.elementsEqual(own.bytes) }, "\(label) \(name): the per-projection bytes")
                    XCTAssertEqual(weights[kind], own.weights, "\(label) \(name)")
                }
                blocks += 1
                return weights
            }
            XCTAssertEqual(blocks, 2)
        }
    }

    /// Under act-order a factor is shared only between types of one block width: Q4_0 (32) and
    /// Q4_K (256) order one input's columns differently.
    func testActOrderKeysTheFactorByBlockWidth() throws {
        let n = 512
        var g = SplitMix64(seed: 11)
        let x = (0..<(64 * n)).map { _ in g.unit() * 2 - 1 }
        var gram = [Double](repeating: 0, count: n * n)
        for t in 0..<64 { for i in 0..<n { for j in 0..<n { gram[i * n + j] += x[t * n + i] * x[t * n + j] } } }
        let small = try GGMLGPTQ(type: .q4_0, actOrder: true), large = try GGMLGPTQ(type: .q4_K, actOrder: true)
        XCTAssertEqual(small.factorKey, 32)
        XCTAssertEqual(large.factorKey, 256)
        XCTAssertNil(try GGMLGPTQ(type: .q4_K).factorKey)
        XCTAssertNotEqual(try small.factored(gram: gram, columns: n, layer: "w").order, try large.factored(gram: gram, columns: n, layer: "w").order)
        XCTAssertEqual(try GGMLGPTQ(type: .q4_0).factored(gram: gram, columns: n, layer: "w").order, Array(0..<n))
    }

    /// SparseGPT on the language model: 4 factorizations a block.
    func testSparseGPTFactorsEachInputOncePerBlock() throws {
        let dir = try tempDir(), text = try llamaCalibrationText(dir), (model, _, calibration) = try calibration(text)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: text)))
        let prune = LanguageModelPrune(method: .sparsegpt, pattern: .unstructured(fraction: 0.5), text: bytes, textPath: text,
                                       options: .init(sequenceTokens: 16, maxSequences: 6, gram: true), huggingFace: nil)
        let stored = LanguageModelPrune.storedNames(model)
        var blocks = 0
        try calibration.run { block in
            var factors = SharedFactor<BlockInputStatistics.Group, HessianFactor>()
            let (weights, items) = try prune.prune(block, model: model, stored: stored, factors: &factors)
            XCTAssertEqual(factors.factorizations, 4, "block \(block.index)")
            XCTAssertEqual(items.count, 7)
            blocks += 1
            return weights
        }
        XCTAssertEqual(blocks, 2)
    }

    /// The command's files: tensor bytes equal to those recorded (with `--embedding rtn`), on
    /// every machine: every matrix product is aic_sgemm's fixed arithmetic (the same bits on
    /// every CPU and split), the Hessian factor and the block quantizers are bit-identical to
    /// their plain twins. And the same bytes whatever the thread count (AICOMPRESS_THREADS=1
    /// and 3 split every product and loop differently from the default).
    func testOutputsMatchRecordedBytesOnEveryThreadCount() throws {
        let dir = try tempDir(), text = try llamaCalibrationText(dir), input = fixture("gguf/llama/tiny-llama.gguf")
        let c = ["--calibration", text, "--calibration-tokens", "16", "--calibration-chunks", "6", "-q"]
        let cases: [(String, [String], String)] = [
            ("q4_0", ["quantize", "--gguf", "Q4_0", "--method", "gptq", "--embedding", "rtn"],
             "b4fea1d4895a0dea2560501c20190c91c07869622b0b36a0d04ccc826a717c3e"),
            ("q4km", ["quantize", "--gguf", "Q4_K_M", "--method", "gptq", "--embedding", "rtn"],
             "2ad8122681a304756a1340f7c70a6c9703d2c7872dc1b55025d13a7d45cb96da"),
            ("q4_0ao", ["quantize", "--gguf", "Q4_0", "--method", "gptq", "--act-order", "--embedding", "rtn"],
             "1df1a2716eb9e0d5f002fcb379125b53c5ce90d6c62a195437a8cc48d723ce39"),
            ("sp50", ["prune", "--method", "sparsegpt", "--sparsity", "0.5"],
             "5496e850874c3e62361469ad116b0776a01a2eef638b197ea6cb136b9034157e"),
            ("sp24", ["prune", "--method", "sparsegpt", "--pattern", "2:4"],
             "d2f35d5e2e074988e3d82cd32a61bed918aa3ed5e8f399fba2ec7c76f397509c"),
        ]
        for (label, command, digest) in cases {
            let out = dir + "/\(label).gguf"
            let r = try run(command + c + [input, out])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try tensorDigest(out), digest, label)
            guard label == "q4km" || label == "sp50" else { continue }
            for threads in ["1", "3"] {
                let other = dir + "/\(label)-\(threads).gguf"
                let r = try run(command + c + [input, other], environment: ["AICOMPRESS_THREADS": threads])
                XCTAssertEqual(r.status, 0, r.stderr)
                XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: other)), try Data(contentsOf: URL(fileURLWithPath: out)),
                               "\(label): AICOMPRESS_THREADS=\(threads) wrote other bytes")
            }
        }
    }
}

extension CLITestCase {
    /// A text of the gguf-py LLaMA fixture's words (400 of them, one sentence cycled with a
    /// drifting offset), written to DIR/calib.txt: GGUFGPTQHeadCLITests' and GGUFSharedFactorTests'
    /// (whose digests were made from it).
    func llamaCalibrationText(_ dir: String) throws -> String {
        let words = "the head of the model is quantized with calibration text one block at a time".split(separator: " ")
        let text = (0..<400).map { words[($0 * 7 + $0 / 13) % words.count] }.joined(separator: " ")
        try text.write(toFile: dir + "/calib.txt", atomically: true, encoding: .utf8)
        return dir + "/calib.txt"
    }
}
