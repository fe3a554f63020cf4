import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

final class CheckpointRoundTripTests: XCTestCase {
    /// Every dtype, with random bytes (so NaN payloads, negative zeros and odd nibbles appear),
    /// plus empty and rank-0 tensors, metadata and a graph, survives write and read bit for bit.
    func testEveryDTypeRoundTripsBitForBit() throws {
        var tensors: [Tensor] = []
        for (i, dtype) in DType.allCases.enumerated() {
            let shape: Shape = [3, 5]
            var bytes = pseudoRandomBytes(dtype.byteCount(elements: 15)!, seed: UInt64(i + 1))
            if dtype == .bool { bytes = bytes.map { $0 & 1 } }
            if dtype.bits == 4 { bytes[bytes.count - 1] &= 0x0F }  // odd count: last high nibble zero
            tensors.append(try Tensor(name: "t.\(dtype.name)", dtype: dtype, shape: shape, data: TensorData(bytes: bytes)))
        }
        tensors.append(try Tensor(name: "empty", dtype: .f32, shape: [0, 4], data: TensorData(bytes: [])))
        tensors.append(try Tensor(name: "scalar", dtype: .f64, shape: [], data: TensorData(values: [Double.pi])))
        tensors.append(try Tensor(name: "名前/ünïcode", shape: [1], floats: [-0.0]))
        let model = try Model(tensors: tensors, metadata: ["b": "2", "a": "1", "ключ": "значение\nmultiline"],
                              graph: try sampleGraph())
        let bytes = try checkpointBytes(model)
        let (back, info) = try readCheckpoint(bytes)
        XCTAssertEqual(back.tensors, model.tensors)
        XCTAssertEqual(back.metadata, model.metadata)
        XCTAssertEqual(back.graph, model.graph)
        XCTAssertEqual(info.fileSize, bytes.count)
        XCTAssertEqual(info.fileCRC32, CRC32.checksum(bytes), "whole-file CRC derived from the parts")
        for t in back.tensors { XCTAssertEqual(t.data.offset % 64, 0, "\(t.name) is 64-byte aligned") }
        // Writing what was read gives the same bytes: one canonical layout, deterministic.
        XCTAssertEqual(try checkpointBytes(back), bytes)
        XCTAssertEqual(try checkpointBytes(model), bytes)
    }

    /// The header and footer offsets, derived field by field, are spec §3.1's and §3.3's.
    func testLayoutOffsetsAreTheSpecs() {
        typealias L = CheckpointLayout
        XCTAssertEqual([L.majorVersionOffset, L.minorVersionOffset, L.flagsOffset, L.headerReservedOffset], [8, 10, 12, 16])
        XCTAssertEqual([L.footerIndexOffsetOffset, L.footerIndexLengthOffset, L.footerIndexCRCOffset, L.footerReservedOffset,
                        L.footerEndMagicOffset], [0, 8, 16, 20, 24])
        XCTAssertEqual(L.footerEndMagicOffset + L.endMagic.count, L.footerSize)
    }

    func testEmptyModel() throws {
        let bytes = try checkpointBytes(Model())
        XCTAssertEqual(bytes.count, 64 + 17 + 32, "header, index of tensor_count + metadata_count + has_graph, footer")
        let (back, _) = try readCheckpoint(bytes)
        XCTAssertTrue(back.tensors.isEmpty)
        XCTAssertNil(back.graph)
    }

    /// The Swift reader understands files written by the independent Python writer
    /// (fixtures/ckpt.py), value for value, and the Swift writer reproduces them byte for byte.
    func testInteroperatesWithPythonWriter() throws {
        let path = fixture("valid/all-dtypes.ckpt")
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture("valid/all-dtypes.json")))) as! [String: Any]
        let loaded = try ModelIO.read(path: path)
        let tensors = expected["tensors"] as! [[String: Any]]
        XCTAssertEqual(loaded.model.tensors.count, tensors.count)
        for (t, e) in zip(loaded.model.tensors, tensors) {
            XCTAssertEqual(t.name, e["name"] as? String)
            XCTAssertEqual(t.dtype.name, e["dtype"] as? String)
            XCTAssertEqual(t.shape.dims, e["shape"] as? [Int])
            XCTAssertEqual(t.data.offset, e["data_offset"] as? Int)
            XCTAssertEqual(t.doubleValues(), (e["values"] as! [NSNumber]).map(\.doubleValue), t.name)
        }
        let metadata = (expected["metadata"] as! [[String: String]]).reduce(into: [String: String]()) { $0[$1["key"]!] = $1["value"]! }
        XCTAssertEqual(loaded.model.metadata, metadata)
        let graph = try XCTUnwrap(loaded.model.graph)
        XCTAssertEqual(graph.nodes.map(\.opType), ["Gemm", "If"])
        XCTAssertEqual(graph.inputs.first?.shape, [.symbolic("N"), .fixed(3)])
        XCTAssertEqual(graph.nodes[0].attribute("transB"), .int(1))
        XCTAssertEqual(graph.nodes[0].attribute("strings"), .strings([Array("a".utf8), Array("bc".utf8)]))
        // The Python writer makes 1.0 files; ours say 1.1 (encoding 3 exists), the rest is the same.
        var as11 = original
        as11[10] = UInt8(CheckpointLayout.minorVersion)
        XCTAssertEqual(try checkpointBytes(loaded.model), as11, "two independent writers agree byte for byte")
    }

    func testDemoModelReads() throws {
        let loaded = try ModelIO.read(path: fixture("demo/mlp-digits.ckpt"))
        XCTAssertEqual(loaded.model.tensors.map(\.name), ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        XCTAssertEqual(loaded.model.parameterCount, 2410)
        XCTAssertEqual(loaded.model.graph?.nodes.map(\.opType), ["Gemm", "Relu", "Gemm"])
    }

    func testWriterRefusesUnrepresentableModels() throws {
        let long = try Tensor(name: String(repeating: "x", count: 5000), shape: [1], floats: [1])
        XCTAssertThrowsError(try checkpointBytes(try Model(tensors: [long]))) {
            guard case .unrepresentable = $0 as? CheckpointError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try checkpointBytes(try Model(tensors: [], metadata: ["": "v"])))
        // The top-level graph is depth 1: seven nested levels (depth 8) pass, eight do not.
        var deep = Graph(nodes: [Node(opType: "Identity", inputs: ["a"], outputs: ["b"])])
        for _ in 0..<7 { deep = Graph(nodes: [Node(opType: "If", inputs: [], outputs: [], attributes: [Attribute(name: "g", value: .graph(deep))])]) }
        let ok = try Model(tensors: [], graph: deep)
        XCTAssertEqual(try readCheckpoint(try checkpointBytes(ok)).model.graph, deep)
        deep = Graph(nodes: [Node(opType: "If", inputs: [], outputs: [], attributes: [Attribute(name: "g", value: .graph(deep))])])
        XCTAssertThrowsError(try checkpointBytes(try Model(tensors: [], graph: deep)))
    }

    /// A 100 MB tensor goes through a real file: atomic write, memory-mapped read, CRC check,
    /// zero-copy view.
    func testLargeTensorThroughAFile() throws {
        // Seconds in a debug build: 100 MB filled, written, mapped and checked.
        try XCTSkipUnless(ProcessInfo.processInfo.environment["AICOMPRESS_SLOW"] == "1",
                          "slow test: set AICOMPRESS_SLOW=1 (scripts/test.sh does) to run it")
        let dir = try temporaryDirectory(self)
        let count = 25_000_000  // 100 MB of f32
        let data = ByteBuffer.build(count: count * 4) { raw in
            let f = raw.bindMemory(to: Float.self)
            for i in 0..<count { f[i] = Float(i % 65_521) * 0.25 - 1000 }
        }
        let tensor = try Tensor(name: "big", dtype: .f32, shape: [5000, 5000], data: TensorData(data))
        let path = dir + "/big.ckpt"
        try ModelIO.write(try Model(tensors: [tensor]), to: path, format: .checkpoint)
        let loaded = try ModelIO.read(path: path)
        let back = try XCTUnwrap(loaded.model.tensor(named: "big"))
        XCTAssertEqual(back, tensor)
        XCTAssertTrue(back.data.buffer === loaded.input.buffer, "the tensor is a view of the mapped file")
        XCTAssertEqual(loaded.input.size, 64 + 100_000_000 + (8 + 51 + 8 + 1) + 32, "header, data, index, footer")
    }
}

final class CRC32Tests: XCTestCase {
    func testKnownValuesAndParallelSplit() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([]), 0)
        let bytes = pseudoRandomBytes(3 * CRC32.parallelChunk + 12_345, seed: 7)
        let sequential = CRC32.checksum(bytes)
        let parallel = bytes.withUnsafeBytes { CRC32.checksums([$0, UnsafeRawBufferPointer(rebasing: $0[0..<100])]) }
        XCTAssertEqual(parallel[0], sequential)
        XCTAssertEqual(parallel[1], CRC32.checksum(Array(bytes[0..<100])))
    }
}
