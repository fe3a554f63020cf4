import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

final class ONNXImportTests: XCTestCase {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Every ONNX type, from raw_data and from its typed field, decodes to the same bytes as the
    /// reference encoding written by the onnx package (fixtures/onnx/all-dtypes.json).
    func testEveryDataTypeFromRawAndTypedFields() throws {
        let loaded = try ModelIO.read(path: fixture("onnx/all-dtypes.onnx"))
        XCTAssertEqual(loaded.format, .onnx)
        XCTAssertEqual(loaded.formatVersion, "IR 10, opset 21")
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture("onnx/all-dtypes.json")))) as! [String: Any]
        let initializers = expected["initializers"] as! [String: [String: Any]]
        XCTAssertEqual(loaded.model.tensors.count, initializers.count)
        for (name, e) in initializers {
            let t = try XCTUnwrap(loaded.model.tensor(named: name), name)
            XCTAssertEqual(ONNXTypes.code(of: t.dtype), Int32(e["data_type"] as! Int), name)
            XCTAssertEqual(t.shape.dims, e["shape"] as? [Int], name)
            XCTAssertEqual(hex(t.data.byteArray), e["raw_hex"] as? String, name)
        }
        // raw_data tensors are views of the mapped file, not copies.
        let raw = try XCTUnwrap(loaded.model.tensor(named: "float_raw"))
        XCTAssertTrue(raw.data.buffer === loaded.input.buffer)
    }

    func testGraphMetadataAndCustomOpsAreKept() throws {
        let loaded = try ModelIO.read(path: fixture("onnx/metadata.onnx"))
        let m = loaded.model
        XCTAssertEqual(m.metadata["author"], "aicompress fixtures")
        XCTAssertEqual(m.metadata["onnx.model_version"], "7")
        XCTAssertEqual(m.metadata["onnx.domain"], "org.example.fixtures")
        let g = try XCTUnwrap(m.graph)
        XCTAssertEqual(g.opsets, [OpsetImport(domain: "", version: 17), OpsetImport(domain: "com.example", version: 1)])
        let custom = try XCTUnwrap(g.nodes.first { $0.opType == "MyOp" })
        XCTAssertEqual(custom.domain, "com.example")
        let kinds = Set(custom.attributes.map(\.value.kindCode))
        XCTAssertEqual(kinds, Set(1...10), "an attribute of every kind")
    }

    func testExternalDataIsMappedInPlace() throws {
        let loaded = try ModelIO.read(path: fixture("onnx/external.onnx"))
        let reference = try ModelIO.read(path: fixture("onnx/mlp.onnx"))
        XCTAssertEqual(loaded.model.tensors.map(\.name), reference.model.tensors.map(\.name))
        for (a, b) in zip(loaded.model.tensors, reference.model.tensors) {
            XCTAssertEqual(a.data.byteArray, b.data.byteArray, a.name)
            XCTAssertFalse(a.data.buffer === loaded.input.buffer, "external tensors view the .data file")
        }
    }

    func testSparseInitializersAreDensified() throws {
        let loaded = try ModelIO.read(path: fixture("onnx/sparse.onnx"))
        for t in loaded.model.tensors {
            let s = t.statistics()
            XCTAssertGreaterThan(s.zeros, 0, t.name)
        }
        XCTAssertFalse(loaded.model.tensors.isEmpty)
    }

    static let malformed: [String: ONNXError] = [
        "truncated": .malformedProtobuf(reason: "field 7 of length 3844 runs past its message", offset: 26),
        "wrong-wire-type": .malformedProtobuf(reason: "ModelProto field 7 holds a message but has wire type 0", offset: 26),
        "raw-data-length": .rawDataLengthMismatch(tensor: "w", expected: 24, actual: 20),
        "external-escape": .externalDataEscapes(tensor: "w", location: "../outside.bin"),
        "external-absolute": .externalDataEscapes(tensor: "w", location: "/etc/passwd"),
        "external-symlink": .externalDataEscapes(tensor: "w", location: "external-symlink.data"),
        "external-out-of-range": .externalDataOutOfRange(tensor: "w", location: "external-out-of-range.data", offset: 8, length: 24, fileSize: 24),
        "dims-overflow": .shapeOverflow(tensor: "w", dims: [1 << 62, 1 << 62]),
        "negative-dim": .negativeDimension(tensor: "w", dims: [-1, 3]),
        "unsupported-type": .unsupportedDataType(tensor: "labels", type: 14),
    ]

    func testEveryMalformedFixtureGivesItsExactError() throws {
        let dir = fixturesURL.appendingPathComponent("onnx/malformed")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".onnx") }
        XCTAssertEqual(Set(files.map { String($0.dropLast(5)) }), Set(Self.malformed.keys))
        for file in files.sorted() {
            let path = dir.appendingPathComponent(file).path
            XCTAssertThrowsError(try ModelIO.read(path: path), file) { error in
                guard let e = error as? ModelFileError, case .invalid(let inner) = e.kind else { return XCTFail("\(file): \(error)") }
                XCTAssertEqual(inner as? ONNXError, Self.malformed[String(file.dropLast(5))], file)
                XCTAssertTrue(e.description.hasPrefix(path + ": "))
            }
        }
    }

    /// Deeply nested messages are refused before protobuf-c (which recurses without a limit)
    /// sees them.
    func testNestingBombIsRefused() throws {
        // ModelProto.graph -> node -> attribute -> g -> node -> attribute -> g ... 10,000 deep.
        var payload: [UInt8] = []
        for _ in 0..<10_000 {
            var attr: [UInt8] = []
            attr += [0x32]  // AttributeProto.g (6), length-delimited
            ProtoWire.appendVarint(UInt64(payload.count), to: &attr)
            attr += payload
            var node: [UInt8] = [0x2A]  // NodeProto.attribute (5)
            ProtoWire.appendVarint(UInt64(attr.count), to: &node)
            node += attr
            var graph: [UInt8] = [0x0A]  // GraphProto.node (1)
            ProtoWire.appendVarint(UInt64(node.count), to: &graph)
            graph += node
            payload = graph
            if payload.count > 1 << 20 { break }
        }
        var model: [UInt8] = [0x08, 0x08, 0x3A]
        ProtoWire.appendVarint(UInt64(payload.count), to: &model)
        model += payload
        XCTAssertThrowsError(try model.withUnsafeBytes { try ONNXProtobuf.decode($0) }) {
            XCTAssertEqual($0 as? ONNXError, .nestingTooDeep(limit: ONNXLimits.maxDepth))
        }
    }

    /// Every prefix of a real model that cuts into its graph, and most random corruptions, are
    /// refused with an ONNXError (never another error, never a crash); read from bytes, so no
    /// file is written.
    func testTruncationAndCorruptionNeverCrash() throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: fixture("onnx/cnn.onnx"))))
        func rejected(_ b: [UInt8]) -> Bool {
            do {
                _ = try readONNX(b)
                return false
            } catch is ONNXError {
                return true
            } catch {
                XCTFail("not an ONNXError: \(error)")
                return true
            }
        }
        // The graph (field 7) is one length-delimited field: any cut inside it breaks the message.
        var graphEnd = 0
        try bytes.withUnsafeBytes { b in try ProtoWire.fields(b, 0..<b.count) { if $0.number == 7 { graphEnd = $0.payload.upperBound } } }
        XCTAssertGreaterThan(graphEnd, bytes.count / 2)
        var prefixes = 0, prefixesRejected = 0
        for n in stride(from: 0, to: graphEnd, by: 7) {
            prefixes += 1
            if rejected(Array(bytes[0..<n])) { prefixesRejected += 1 }
        }
        XCTAssertEqual(prefixesRejected, prefixes, "every prefix that ends before the graph does is refused")
        var mutantsRejected = 0
        for seed in 1...500 {
            var mutant = bytes
            let noise = pseudoRandomBytes(6, seed: UInt64(seed))
            let position = (Int(noise[0]) << 8 | Int(noise[1])) % mutant.count
            mutant[position] ^= noise[2] | 1
            if rejected(mutant) { mutantsRejected += 1 }
        }
        // Most flips land in raw float data and leave a valid model; 33 of these 500 hit the
        // structure, and those must stay refused.
        XCTAssertGreaterThanOrEqual(mutantsRejected, 30, "structure corruptions are refused")
    }
}

final class ONNXExportTests: XCTestCase {
    func onnxBytes(_ model: Model, options: ONNXWriteOptions = ONNXWriteOptions()) throws -> [UInt8] {
        var sink = MemorySink()
        var none: MemorySink? = nil
        try ONNXWriter.write(model, to: &sink, options: options, external: &none, externalLocation: nil)
        return sink.bytes
    }

    /// Reads ONNX bytes back, from memory.
    func decode(_ bytes: [UInt8]) throws -> Model { try readONNX(bytes) }

    /// ONNX -> Model -> ONNX -> Model keeps tensors bit for bit, the graph, and metadata; and the
    /// same model always gives the same bytes.
    func testRoundTripOfEveryFixture() throws {
        for name in ["mlp", "mlp-matmul", "cnn", "all-dtypes", "metadata", "skl-logreg", "skl-mlp", "sparse", "external"] {
            let original = try ModelIO.read(path: fixture("onnx/\(name).onnx")).model
            let bytes = try onnxBytes(original)
            XCTAssertEqual(try onnxBytes(original), bytes, "\(name): deterministic")
            let back = try decode(bytes)
            XCTAssertEqual(back.tensors, original.tensors, name)
            XCTAssertEqual(back.graph, original.graph, name)
            var expected = original.metadata
            expected["onnx.producer_name"] = "aicompress"
            expected["onnx.producer_version"] = AICompressVersion.string
            XCTAssertEqual(back.metadata, expected, name)
            // And through the native checkpoint: the graph (types, attributes) survives too.
            let (viaCkpt, _) = try readCheckpoint(try checkpointBytes(original))
            XCTAssertEqual(viaCkpt.graph, original.graph, name)
            XCTAssertEqual(try onnxBytes(viaCkpt), bytes, "\(name): ckpt round trip gives the same ONNX")
        }
    }

    func testSparseExportIsSmallerAndExact() throws {
        var values = [Float](repeating: 0, count: 1000)
        for i in stride(from: 0, to: 1000, by: 10) { values[i] = Float(i) }
        let model = try Model(tensors: [try Tensor(name: "w", shape: [10, 100], floats: values)])
        let dense = try onnxBytes(model)
        let sparse = try onnxBytes(model, options: ONNXWriteOptions(sparseInitializers: true))
        XCTAssertLessThan(sparse.count, dense.count / 2)
        XCTAssertEqual(try decode(sparse).tensors, model.tensors)
    }

    func testOver2GiBNeedsExternalData() throws {
        // A 2 GiB+ tensor that is never touched: its size alone exceeds protobuf's limit.
        let huge = ByteBuffer(wrapping: UnsafeRawPointer(bitPattern: 0x1000), count: Int(Int32.max) + 1, release: nil)
        let t = try Tensor(name: "big", dtype: .u8, shape: try Shape([Int(Int32.max) + 1]), data: TensorData(huge))
        XCTAssertThrowsError(try onnxBytes(try Model(tensors: [t]))) {
            guard case .unrepresentable(let why) = $0 as? ONNXError else { return XCTFail("\($0)") }
            XCTAssertTrue(why.contains("--external-data"))
        }
    }
}
