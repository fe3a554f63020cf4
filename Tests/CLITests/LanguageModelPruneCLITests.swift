import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// `prune` on a GGUF language model (fixtures/gguf/llama/tiny-llama.gguf: 2 blocks, F16
/// projections, F32 norms and output): only the block projections change, their type is kept,
/// the sparsity is the one asked, and calibrated runs are deterministic.
final class LanguageModelPruneCLITests: CLITestCase {
    static let projections = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]

    /// A calibration text of common words (deterministic).
    func calibrationText(_ dir: String) throws -> String {
        var g = SplitMix64(seed: 3)
        let words = "the of and to in is was for on that with as by at from".split(separator: " ")
        let text = (0..<400).map { _ in String(words[Int(g.next() % UInt64(words.count))]) }.joined(separator: " ")
        let path = dir + "/calib.txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Checks `out` against the input: projections pruned as `check` says (given each row),
    /// dtype kept; every other tensor byte-identical.
    func assertPruned(_ out: String, _ check: ([Float]) -> Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let base = try ModelIO.read(path: fixture("gguf/llama/tiny-llama.gguf")).model
        let got = try ModelIO.read(path: out).model
        XCTAssertEqual(got.tensors.map(\.name), base.tensors.map(\.name), file: file, line: line)
        for t in base.tensors {
            let u = try XCTUnwrap(got.tensor(named: t.name), file: file, line: line)
            XCTAssertEqual(u.dtype, t.dtype, t.name, file: file, line: line)
            guard Self.projections.contains(where: { t.name.hasSuffix(".\($0).weight") }) else {
                XCTAssertEqual(u, t, "\(t.name) changed", file: file, line: line)
                continue
            }
            let values = u.floatValues(), columns = t.shape.dims[1]
            for r in 0..<t.shape.dims[0] {
                let row = Array(values[(r * columns)..<((r + 1) * columns)])
                XCTAssertTrue(check(row), "\(t.name) row \(r): \(row.filter { $0 == 0 }.count) zeros", file: file, line: line)
            }
        }
    }

    func testMagnitudePrunesOnlyTheProjections() throws {
        let dir = try tempDir()
        let r = try run(["prune", "--keep", "0.5", fixture("gguf/llama/tiny-llama.gguf"), dir + "/m.gguf"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("14 tensors changed, 7 left as they were"), r.stderr)
        let got = try ModelIO.read(path: dir + "/m.gguf").model
        for p in Self.projections {
            let t = try XCTUnwrap(got.tensor(named: "blk.1.\(p).weight"))
            XCTAssertEqual(t.floatValues().filter { $0 == 0 }.count, t.elementCount / 2, p)
        }
    }

    func testWandaAndSparseGPTPruneEveryRowAndAreDeterministic() throws {
        let dir = try tempDir(), calib = try calibrationText(dir), input = fixture("gguf/llama/tiny-llama.gguf")
        let common = ["--calibration", calib, "--calibration-tokens", "16", "--calibration-chunks", "4"]
        for (method, shape, check) in [
            ("wanda", ["--keep", "0.5"], { (row: [Float]) in row.filter { $0 == 0 }.count >= row.count / 2 }),
            ("sparsegpt", ["--pattern", "2:4"], { (row: [Float]) in
                stride(from: 0, to: row.count, by: 4).allSatisfy { s in row[s..<(s + 4)].filter { $0 == 0 }.count >= 2 }
            }),
        ] {
            var bytes: [Data] = []
            for i in 0..<2 {
                let out = dir + "/\(method)\(i).gguf"
                let r = try run(["prune", "--method", method] + shape + common + [input, out])
                XCTAssertEqual(r.status, 0, r.stderr)
                XCTAssertTrue(r.stderr.contains("\(method) "), r.stderr)
                bytes.append(try Data(contentsOf: URL(fileURLWithPath: out)))
            }
            XCTAssertEqual(bytes[0], bytes[1], "\(method): two runs differ")
            try assertPruned(dir + "/\(method)0.gguf", check)
        }
    }

    /// Dense targets (spec/gguf.md): SparseGPT and GPTQ record `targets: dense`; a recipe step
    /// without the key (as written before) replays the own-output fit: block 0, whose inputs are
    /// the dense model's, is byte-identical either way, block 1 is not; the recorded recipe
    /// replays byte for byte.
    func testDenseTargetsAreRecordedAndTheOldStepsReplayTheOwnFit() throws {
        let dir = try tempDir(), calib = try calibrationText(dir), input = fixture("gguf/llama/tiny-llama.gguf")
        let common = ["--calibration", calib, "--calibration-tokens", "16", "--calibration-chunks", "4"]
        for (name, args) in [("sparsegpt", ["prune", "--method", "sparsegpt", "--keep", "0.5"]),
                             ("gptq", ["quantize", "--gguf", "Q4_0", "--method", "gptq", "--head", "rtn", "--embedding", "rtn"])] {
            let out = dir + "/\(name).gguf"
            let r = try run(args + common + ["-q", input, out])
            XCTAssertEqual(r.status, 0, r.stderr)
            let shown = try run(["recipe", out])
            XCTAssertEqual(shown.status, 0, shown.stderr)
            XCTAssertTrue(shown.text.contains("      targets: dense\n"), shown.text)
            let recipe = dir + "/\(name).yaml", old = dir + "/\(name)-own.yaml"
            try shown.text.write(toFile: recipe, atomically: true, encoding: .utf8)
            try shown.text.replacingOccurrences(of: "      targets: dense\n", with: "").write(toFile: old, atomically: true, encoding: .utf8)
            let again = dir + "/\(name)-again.gguf", own = dir + "/\(name)-own.gguf"
            for (file, result) in [(recipe, again), (old, own)] {
                let a = try run(["apply", "-q", file, input, result])
                XCTAssertEqual(a.status, 0, a.stderr)
            }
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), try Data(contentsOf: URL(fileURLWithPath: again)), name)
            let dense = try ModelIO.read(path: out).model, ownModel = try ModelIO.read(path: own).model
            var changed = 0
            for p in Self.projections {
                let b0 = "blk.0.\(p).weight", b1 = "blk.1.\(p).weight"
                XCTAssertEqual(dense.tensor(named: b0), ownModel.tensor(named: b0), "\(name) \(b0)")
                if dense.tensor(named: b1) != ownModel.tensor(named: b1) { changed += 1 }
            }
            XCTAssertEqual(changed, 7, "\(name): every block-1 projection fits the dense model's outputs")
        }
    }

    func testCalibrationRefusals() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf")
        try "x y".write(toFile: dir + "/short.txt", atomically: true, encoding: .utf8)
        let short = try run(["prune", "--method", "wanda", "--keep", "0.5", "--calibration", dir + "/short.txt",
                             "--calibration-tokens", "16", input, dir + "/o.gguf"])
        XCTAssertEqual(short.status, 65, short.stderr)
        XCTAssertTrue(short.stderr.contains("short.txt (calibration text)") && short.stderr.contains("tokens"), short.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/o.gguf"))
        let tiny = try run(["prune", "--method", "wanda", "--keep", "0.5", "--calibration", dir + "/short.txt",
                            "--calibration-tokens", "8", input, dir + "/o.gguf"])
        XCTAssertEqual(tiny.status, 64, tiny.stderr)
        XCTAssertTrue(tiny.stderr.contains("--calibration-tokens must be at least 16"), tiny.stderr)
    }
}
