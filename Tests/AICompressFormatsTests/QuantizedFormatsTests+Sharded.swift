import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// Quantized tensors in sharded safetensors sets (issue 15 item 2): the index names every
/// tensor of every shard, scales included, and the set reads back as the single file does.
extension QuantizedFormatsTests {
    func testShardedSafetensorsIndexNamesEveryTensorOfEveryShard() throws {
        let dir = try temporaryDirectory(self)
        for (name, model) in try quantizedModels() {
            let single = dir + "/single.safetensors"
            try ModelIO.write(model, to: single, format: .safetensors)
            let setDir = dir + "/" + name.replacingOccurrences(of: " ", with: "-")
            try FileManager.default.createDirectory(atPath: setDir, withIntermediateDirectories: true)
            try ModelIO.write(model, to: setDir + "/model.safetensors", format: .safetensors, shardSize: 200)

            let indexPath = setDir + "/model.safetensors.index.json"
            let indexBytes = Array(try Data(contentsOf: URL(fileURLWithPath: indexPath)))
            let index = try indexBytes.withUnsafeBytes { try ShardedSafetensors.parseIndex($0) }
            XCTAssertGreaterThan(index.shards.count, 1, "\(name): the set is sharded")
            var everyTensor: [String] = []
            for shard in index.shards {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: setDir + "/" + shard))
                let plain = try SafetensorsReader.read(bytes.withUnsafeBytes { ByteBuffer.copying($0) }, foldQuantized: false).model
                let names = plain.tensors.map(\.name)
                XCTAssertEqual(Set(names), Set(index.weightMap.filter { $0.value == shard }.keys), "\(name): \(shard)")
                // A quantized tensor's scales and zero points sit in its own shard.
                for key in plain.metadata.keys where key.hasPrefix(SafetensorsQuantization.keyPrefix) {
                    let tensor = String(key.dropFirst(SafetensorsQuantization.keyPrefix.count))
                    XCTAssertTrue(names.contains(tensor) && names.contains(tensor + "_scale"), "\(name): \(shard) describes \(tensor)")
                }
                everyTensor += names
            }
            XCTAssertEqual(Set(everyTensor).count, everyTensor.count, "\(name): no tensor in two shards")
            XCTAssertEqual(Set(index.weightMap.keys), Set(everyTensor), "\(name): the index names exactly the shards' tensors")

            let fromSet = try ModelIO.read(path: indexPath).model
            let fromFile = try ModelIO.read(path: single).model
            XCTAssertEqual(fromSet.tensors.sorted { $0.name < $1.name }, fromFile.tensors.sorted { $0.name < $1.name }, name)
            XCTAssertEqual(fromSet.tensors.sorted { $0.name < $1.name }, model.tensors.sorted { $0.name < $1.name }, name)
        }
    }
}
