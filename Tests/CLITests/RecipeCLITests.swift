import Foundation
import XCTest

/// `aicompress apply` and `aicompress recipe`.
final class RecipeCLITests: CLITestCase {
    let recipe = """
        # prune half the weights globally, then int8 except the output layer
        steps:
          - prune:
              keep: 0.5
              scope: global
              include: "*.weight"
          - quantize:
              int8: true
              exclude: ["fc2.*"]

        """

    func write(_ text: String, _ dir: String, _ name: String = "r.yaml") throws -> String {
        let p = dir + "/" + name
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func testApplyRecordsTheRecipeAndItReproducesTheFile() throws {
        let dir = try tempDir()
        let r = try run(["apply", try write(recipe, dir), fixture("demo/mlp-digits.ckpt"), dir + "/out.ckpt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // the report covers both steps per tensor
        XCTAssertTrue(r.stderr.contains("magnitude keep 0.5 (global) + int8 per-channel"), r.stderr)
        // same as running the two commands through a pipe
        let piped = dir + "/piped.ckpt"
        let p1 = try run(["prune", "--keep", "0.5", "--scope", "global", "--include", "*.weight", "-q", fixture("demo/mlp-digits.ckpt"), "-"])
        XCTAssertEqual(try run(["quantize", "--int8", "--exclude", "fc2.*", "-q", "-", piped], stdin: p1.stdout).status, 0)
        let shown = try run(["recipe", dir + "/out.ckpt"])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertEqual(shown.text, """
            # aicompress recipe: reproduce with `aicompress apply THIS_FILE IN OUT`
            version: 1
            steps:
              - prune:
                  keep: 0.5
                  scope: global
                  include: '*.weight'
              - quantize:
                  int8: true
                  exclude: 'fc2.*'

            """)
        XCTAssertEqual(try run(["recipe", piped]).text, shown.text)
        // the printed recipe runs again and gives the same bytes
        let again = dir + "/again.ckpt"
        XCTAssertEqual(try run(["apply", "-q", try write(shown.text, dir, "again.yaml"), fixture("demo/mlp-digits.ckpt"), again]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: again)), try Data(contentsOf: URL(fileURLWithPath: dir + "/out.ckpt")))
        // and the tensors equal the piped result's
        let d = try run(["diff", "--json", dir + "/out.ckpt", piped])
        XCTAssertEqual(d.status, 0, d.stderr)
        let inspectA = try run(["inspect", "--json", dir + "/out.ckpt"]).text, inspectB = try run(["inspect", "--json", piped]).text
        func tensors(_ s: String) throws -> NSArray {
            let j = try JSONSerialization.jsonObject(with: Data(s.utf8)) as! [String: Any]
            return j["tensors"] as! NSArray
        }
        XCTAssertEqual(try tensors(inspectA), try tensors(inspectB))
    }

    func testRecipeErrorsNameTheLineAndTheKey() throws {
        let dir = try tempDir()
        let cases: [(String, String)] = [
            ("steps:\n  - prune:\n      keep: 0.5\n      scop: global\n",
             ":4: step 1 (prune): key 'scop': not a key of prune (keys: keep, sparsity, scope, pattern, norm, include, exclude, "
                + "include-1d, include-embeddings)"),
            ("steps:\n  - prune:\n      keep: 1.5\n", ":3: step 1 (prune): key 'keep': keep must be between 0 and 1"),
            ("steps:\n  - prune: {keep: 0.5}\n  - squash: {}\n", ":3: step 2: unknown step 'squash' (steps: prune, quantize, dequantize, quantize-gguf)"),
            ("steps:\n  - quantize:\n      int8: true\n      quiet: true\n", ":4: step 1 (quantize): key 'quiet' is an option of apply itself, not of a step"),
            ("stesp:\n  - prune: {keep: 0.5}\n", ":1: unknown key 'stesp' (keys: steps, version, name, description)"),
            ("steps: []\n", ":1: key 'steps' is empty"),
            ("steps: [\n", ": not valid YAML"),
        ]
        for (text, expected) in cases {
            let path = try write(text, dir)
            let r = try run(["apply", path, fixture("demo/mlp-digits.ckpt"), dir + "/x.ckpt"])
            XCTAssertEqual(r.status, 65, text)
            XCTAssertTrue(r.stderr.hasPrefix("aicompress: error: \(path)\(expected)"), "\(text) → \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.ckpt"))
        }
        let none = try run(["recipe", fixture("demo/mlp-digits.ckpt")])
        XCTAssertEqual(none.status, 65)
        XCTAssertTrue(none.stderr.contains("no recipe recorded"))
    }
}
