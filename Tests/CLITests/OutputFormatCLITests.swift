import AICompressFormats
import Foundation
import XCTest

/// Output formats come from `--format` or OUT's extension (issue 15 item 5): an extension no
/// format has is a usage error for every command that writes a model, and nothing is written.
final class OutputFormatCLITests: CLITestCase {
    /// Each writing command's arguments before OUT, given a folder holding `q.ckpt` (a
    /// quantized model) and `recipe.yaml`.
    func writingCommands(_ dir: String) -> [(String, [String])] {
        let mlp = fixture("demo/mlp-digits.ckpt"), teacher = fixture("demo/teacher-digits.ckpt")
        let train = fixture("demo/digits-train.csv")
        return [
            ("convert", ["convert", mlp]),
            ("prune", ["prune", "-q", "--keep", "0.5", mlp]),
            ("quantize", ["quantize", "-q", "--int8", mlp]),
            ("dequantize", ["dequantize", "-q", dir + "/q.ckpt"]),
            ("apply", ["apply", "-q", dir + "/recipe.yaml", mlp]),
            ("train", ["train", mlp, "--data", train, "--epochs", "1", "-q"]),
            ("distill", ["distill", "--teacher", teacher, "--data", train, "--hidden", "8", "--epochs", "1", "-q"]),
        ]
    }

    func testUnknownExtensionIsRefusedUnlessFormatSaysWhich() throws {
        let dir = try tempDir(), work = try tempDir()
        XCTAssertEqual(try run(["quantize", "-q", "--int8", fixture("demo/mlp-digits.ckpt"), dir + "/q.ckpt"]).status, 0)
        try "steps:\n  - prune: {keep: 0.5}\n".write(toFile: dir + "/recipe.yaml", atomically: true, encoding: .utf8)
        for (name, args) in writingCommands(dir) {
            for bad in ["out.xyz", "out.onnx.gz", "out"] {
                let r = try run(args + [work + "/" + bad])
                XCTAssertEqual(r.status, 64, "\(name) \(bad): \(r.stderr)")
                let first = r.stderr.split(separator: "\n").first.map(String.init) ?? ""
                XCTAssertTrue(first.contains("\(work)/\(bad): no output format has this extension"), "\(name): \(first)")
                XCTAssertTrue(first.contains(FormatRegistry.extensionList) && first.contains("--format (\(FormatRegistry.idList))"),
                              "\(name): the formats come from the registry: \(first)")
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: work), [], "\(name): nothing written")
            let out = work + "/\(name).xyz"
            let r = try run(args.prefix(1) + ["--format", "ckpt"] + args.dropFirst() + [out])
            XCTAssertEqual(r.status, 0, "\(name) --format ckpt: \(r.stderr)")
            let head = try XCTUnwrap(FileHandle(forReadingAtPath: out)).readData(ofLength: 8)
            XCTAssertEqual(Array(head), Array("\u{89}AICKPT\n".unicodeScalars.map { UInt8($0.value) }), "\(name): a checkpoint")
            try FileManager.default.removeItem(atPath: out)
        }
    }

    func testStandardOutputStillDefaultsToCheckpoint() throws {
        let r = try run(["convert", fixture("demo/mlp-digits.ckpt"), "-"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(Array(r.stdout.prefix(7)), Array("\u{89}AICKPT".unicodeScalars.map { UInt8($0.value) }))
    }
}
