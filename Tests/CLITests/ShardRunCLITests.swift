import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// Scale-out runs (issue 19 items 4 and 5, spec/sharded-runs.md): `--shard K/N` processes
/// fanned out by GNU parallel, then `merge`, give the bytes of one process; merge refuses
/// missing and inconsistent parts; the Slurm and Kubernetes recipes parse.
final class ShardRunCLITests: CLITestCase {
    /// A 3-shard input written by our own `--shard-size`: six [64, 64] weights and their [64]
    /// biases, two layers per 40 KB shard; `edit` may change weight i's values. Returns the index.
    func shardedInput(_ dir: String, edit: (Int, inout [Float]) -> Void = { _, _ in }) throws -> String {
        var model = Model()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        for i in 0..<6 {
            var w = (0..<4096).map { _ in next() }
            edit(i, &w)
            try model.append(Tensor(name: "layers.\(i).weight", shape: Shape([64, 64]), floats: w))
            try model.append(Tensor(name: "layers.\(i).bias", shape: Shape([64]), floats: (0..<64).map { _ in next() }))
        }
        try ModelIO.write(model, to: dir + "/src.safetensors", format: .safetensors)
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        let r = try run(["convert", "-q", "--shard-size", "40KB", dir + "/src.safetensors", dir + "/in/model.safetensors"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try files(dir + "/in").filter { $0.hasSuffix(".safetensors") }.count, 3)
        return dir + "/in/model.safetensors.index.json"
    }

    func files(_ dir: String) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir).sorted() }

    /// The weight map of a safetensors index.
    func weightMap(_ index: String) throws -> [String: String] {
        let json = try jsonObject(try Data(contentsOf: URL(fileURLWithPath: index)))
        return try XCTUnwrap(json["weight_map"] as? [String: String])
    }

    /// The tensor names in a safetensors file's header.
    func headerNames(_ path: String) throws -> Set<String> {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try jsonObject(data.subdata(in: 8..<(8 + n)))
        return Set(header.keys.filter { $0 != "__metadata__" })
    }

    func testParallelShardRunsMergeToTheBytesOfOneProcess() throws {
        guard try shell("command -v parallel").status == 0 else {
            throw XCTSkip("GNU parallel is not installed (scripts/install-deps.sh installs it): the parallel form is not run")
        }
        let dir = try tempDir()
        let index = try shardedInput(dir)
        // One process with --shard-size giving the input's sharding (two layers per shard).
        let cases: [(name: String, command: [String], shardSize: String)] = [
            ("int8", ["quantize", "--int8"], "10KB"), ("uint8", ["quantize", "--uint8"], "10KB"),
            ("int4", ["quantize", "--int4"], "6KB"), ("prune", ["prune", "--keep", "0.4"], "40KB"), ("convert", ["convert"], "40KB"),
        ]
        for c in cases {
            let one = dir + "/one-" + c.name, many = dir + "/many-" + c.name
            for d in [one, many] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
            let single = try run(c.command + ["-q", "--shard-size", c.shardSize, index, one + "/model.safetensors"])
            XCTAssertEqual(single.status, 0, single.stderr)
            let fanned = try shell("parallel --will-cite --halt now,fail=1 \"$bin\" \(c.command.joined(separator: " ")) -q --shard {}/3 '\(index)' "
                + "'\(many)/model.safetensors' ::: 1 2 3 && \"$bin\" merge -q '\(many)/model.safetensors.index.json'")
            XCTAssertEqual(fanned.status, 0, fanned.stderr)
            let names = try files(one)
            XCTAssertEqual(names, ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                   "model-00003-of-00003.safetensors", "model.safetensors.index.json"], "\(c.name): the same sharding")
            XCTAssertEqual(try files(many), names, "\(c.name): the parts are gone after the merge")
            for f in names {
                let a = try Data(contentsOf: URL(fileURLWithPath: one + "/" + f)), b = try Data(contentsOf: URL(fileURLWithPath: many + "/" + f))
                XCTAssertTrue(a == b, "\(c.name): \(f) differs (\(a.count) vs \(b.count) bytes)")
            }
            // Quantized outputs: each NAME_scale / NAME_zero_point is mapped to its tensor's
            // shard, and that shard holds it.
            let map = try weightMap(many + "/model.safetensors.index.json")
            XCTAssertEqual(map.count, c.name == "uint8" ? 24 : c.name.hasPrefix("int") ? 18 : 12, c.name)
            for (tensor, shard) in map {
                XCTAssertTrue(try headerNames(many + "/" + shard).contains(tensor), "\(c.name): \(tensor) in \(shard)")
                for suffix in ["_scale", "_zero_point"] where tensor.hasSuffix(suffix) {
                    XCTAssertEqual(map[String(tensor.dropLast(suffix.count))], shard, "\(c.name): \(tensor)")
                }
            }
        }
    }

    func testMergeRefusesMissingAndInconsistentParts() throws {
        let dir = try tempDir()
        let index = try shardedInput(dir)
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        func shard(_ k: Int, of n: Int = 3) throws -> Result {
            try run(["quantize", "-q", "--int8", "--shard", "\(k)/\(n)", index, out + "/model.safetensors"])
        }
        func merge() throws -> Result { try run(["merge", out + "/model.safetensors.index.json"]) }
        func expect(_ r: Result, _ status: Int32, _ message: String, line: UInt = #line) {
            XCTAssertEqual(r.status, status, r.stderr, line: line)
            XCTAssertTrue(r.stderr.contains(message), r.stderr, line: line)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/model.safetensors.index.json"), line: line)
        }
        expect(try shard(1, of: 4), 64, "the index names 3 shard files, not 4")
        expect(try run(["quantize", "-q", "--int8", "--shard", "1/3", dir + "/src.safetensors", out + "/model.safetensors"]), 64,
               "--shard needs a sharded safetensors input")
        expect(try run(["prune", "--keep", "0.5", "--scope", "global", "--shard", "1/3", index, out + "/model.safetensors"]), 64,
               "--scope global runs in phases")
        expect(try run(["quantize", "--int8", "--shard", "1/3", index, out + "/model.ckpt"]), 64, "writes a safetensors shard")
        expect(try run(["quantize", "--int8", "--shard", "0/3", index, out + "/model.safetensors"]), 64, "--shard")
        expect(try merge(), 66, "no partial index")
        for k in [1, 3] { XCTAssertEqual(try shard(k).status, 0) }
        expect(try merge(), 66, "out/model.safetensors.index.json.part-00002-of-00003: missing")
        XCTAssertEqual(try shard(2).status, 0)

        let shard2 = out + "/model-00002-of-00003.safetensors", part2 = out + "/model.safetensors.index.json.part-00002-of-00003"
        let savedShard = try Data(contentsOf: URL(fileURLWithPath: shard2)), savedPart = try String(contentsOfFile: part2, encoding: .utf8)
        func restore() throws {
            try savedShard.write(to: URL(fileURLWithPath: shard2))
            try savedPart.write(toFile: part2, atomically: true, encoding: .utf8)
        }
        try (savedShard + Data([0x20])).write(to: URL(fileURLWithPath: shard2))
        expect(try merge(), 65, "model-00002-of-00003.safetensors: \(savedShard.count + 1) bytes, its partial index recorded \(savedShard.count)")
        try FileManager.default.removeItem(atPath: shard2)
        expect(try merge(), 66, "model-00002-of-00003.safetensors: missing")
        try restore()
        try savedPart.replacingOccurrences(of: "\"weight_map\": {\n", with: "\"weight_map\": {\n    \"layers.0.weight\": \"model-00002-of-00003.safetensors\",\n")
            .write(toFile: part2, atomically: true, encoding: .utf8)
        expect(try merge(), 65, "tensor 'layers.0.weight' is also in \(out)/model.safetensors.index.json.part-00001-of-00003")
        try savedPart.replacingOccurrences(of: "\"layers.2.bias\": \"model-00002-of-00003.safetensors\",\n", with: "")
            .write(toFile: part2, atomically: true, encoding: .utf8)
        expect(try merge(), 65, "tensor 'layers.2.bias' is not both in the file and in its partial index")
        try "{".write(toFile: part2, atomically: true, encoding: .utf8)
        expect(try merge(), 65, "part-00002-of-00003: not a partial index")
        try restore()
        let stray = out + "/model.safetensors.index.json.part-00004-of-00004"
        try savedPart.replacingOccurrences(of: "\"shards\": 3", with: "\"shards\": 4").write(toFile: stray, atomically: true, encoding: .utf8)
        expect(try merge(), 65, "part-00004-of-00004: a part of 4 shards, but")
        try FileManager.default.removeItem(atPath: stray)
        let misnamed = out + "/model.safetensors.index.json.part-00004-of-00003"
        try savedPart.write(toFile: misnamed, atomically: true, encoding: .utf8)
        expect(try merge(), 65, "part-00004-of-00003: its content says shard 2/3, which is \(part2)")
        try FileManager.default.removeItem(atPath: misnamed)
        try savedPart.replacingOccurrences(of: "model-00002-of-00003.safetensors", with: "model-00009-of-00003.safetensors")
            .write(toFile: part2, atomically: true, encoding: .utf8)
        expect(try merge(), 65, "names file 'model-00009-of-00003.safetensors', shard 2/3 is model-00002-of-00003.safetensors")
        try restore()

        let merged = try merge()
        XCTAssertEqual(merged.status, 0, merged.stderr)
        XCTAssertTrue(merged.stderr.contains("3 shards, 18 tensors"), merged.stderr)
        XCTAssertEqual(try files(out).filter { $0.contains(".part-") }, [])
        let read = try ModelIO.read(path: out + "/model.safetensors.index.json").model
        XCTAssertEqual(read.tensors.map(\.name).sorted(), (0..<6).flatMap { ["layers.\($0).bias", "layers.\($0).weight"] }.sorted())
        // A second merge has no parts left to join; the index stays as it is.
        let again = try merge()
        XCTAssertEqual(again.status, 66, again.stderr)
        XCTAssertTrue(again.stderr.contains("no partial index"), again.stderr)
        XCTAssertEqual(try ModelIO.read(path: out + "/model.safetensors.index.json").model.tensors.count, 12, "six weights (folded with their scales) and six biases")
    }

    var examples: String { Self.fixtures.deletingLastPathComponent().appendingPathComponent("examples/scale-out").path }

    func testSlurmScriptParsesAndRefusesToRunOutsideAnArray() throws {
        let script = examples + "/slurm-quantize.sh"
        XCTAssertEqual(try shell("bash -n '\(script)'").status, 0)
        let outside = try shell("env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT bash '\(script)' in/model.safetensors.index.json out")
        XCTAssertNotEqual(outside.status, 0)
        XCTAssertTrue(outside.stderr.contains("sbatch --array=1-N"), outside.stderr)
    }

    func testKubernetesIndexedJobParses() throws {
        guard try shell("python3 -c 'import yaml' 2>/dev/null").status == 0 else {
            throw XCTSkip("PyYAML is not installed: the Kubernetes manifest is not parsed")
        }
        let check = """
            import sys, yaml
            job = yaml.safe_load(open(sys.argv[1]))
            spec = job["spec"]
            assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job", job
            assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"], spec
            c = spec["template"]["spec"]["containers"][0]
            shards = [e["value"] for e in c["env"] if e["name"] == "SHARDS"][0]
            assert int(shards) == spec["completions"], shards
            cmd = " ".join(c["args"])
            assert "--shard \\"$((JOB_COMPLETION_INDEX + 1))/$SHARDS\\"" in cmd, cmd
            """
        let r = try shell("python3 -c '\(check.replacingOccurrences(of: "'", with: "'\\''"))' '\(examples)/k8s-indexed-job.yaml'")
        XCTAssertEqual(r.status, 0, r.stderr)
    }
}
