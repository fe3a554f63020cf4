import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// `quantize --shard-size` (issue 15 item 2): `verify` accepts the set, and it reads back as
/// the single-file output does, tensor for tensor.
final class ShardedQuantizeCLITests: CLITestCase {
    func testQuantizedShardedSetVerifiesAndEqualsTheSingleFile() throws {
        let dir = try tempDir()
        let teacher = fixture("demo/teacher-digits.ckpt")
        for scheme in ["--int8", "--uint8", "--int4"] {
            let single = dir + "/single\(scheme).safetensors", set = dir + "/set\(scheme)"
            try FileManager.default.createDirectory(atPath: set, withIntermediateDirectories: true)
            XCTAssertEqual(try run(["quantize", "-q", scheme, teacher, single]).status, 0, scheme)
            let r = try run(["quantize", "-q", scheme, "--shard-size", "10KB", teacher, set + "/model.safetensors"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let index = set + "/model.safetensors.index.json"
            let shards = try FileManager.default.contentsOfDirectory(atPath: set).filter { $0.hasSuffix("safetensors") }
            XCTAssertGreaterThan(shards.count, 1, "\(scheme): sharded")
            let verify = try run(["verify", index] + shards.map { set + "/" + $0 })
            XCTAssertEqual(verify.status, 0, "\(scheme): \(verify.stderr)")
            let fromSet = try ModelIO.read(path: index).model, fromFile = try ModelIO.read(path: single).model
            XCTAssertEqual(fromSet.tensors.sorted { $0.name < $1.name }, fromFile.tensors.sorted { $0.name < $1.name }, scheme)
        }
    }
}
