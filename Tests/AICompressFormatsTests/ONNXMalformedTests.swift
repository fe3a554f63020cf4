import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// One input per ONNXError case that the fixtures in fixtures/onnx/malformed do not reach,
/// built from bytes here, each asserting the exact error.
final class ONNXMalformedTests: XCTestCase {
    typealias B = ONNXBytes
    static let w3 = B.le([Float(1), 2, 3])

    func assertRefused(_ bytes: [UInt8], _ expected: ONNXError, sideFiles: any SideFileResolver = NoSideFiles(),
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try readONNX(bytes, sideFiles: sideFiles), file: file, line: line) {
            XCTAssertEqual($0 as? ONNXError, expected, file: file, line: line)
        }
    }

    func testModelLevelDefects() {
        assertRefused(B.model(graph: false), .missingGraph)
        assertRefused(B.model { $0.bytes(25, []) }, .unsupportedFeature("local functions (ModelProto.functions)"))
        // A TensorProto whose dims (an int64 field) arrive as fixed32: the wire pre-scan only
        // follows messages, protobuf-c refuses the wire type.
        var wrongWireType = ProtoMessage()
        wrongWireType.float(1, 1)
        assertRefused(B.model(initializers: [wrongWireType]), .decodeFailed)
    }

    func testInitializerNamesAndData() {
        let w = B.tensor("w", dims: [3], raw: Self.w3)
        assertRefused(B.model(initializers: [w, w]), .duplicateInitializer("w"))
        assertRefused(B.model(initializers: [w, B.tensor(nil, dims: [3], raw: Self.w3)]), .unnamedInitializer(index: 1))
        assertRefused(B.model(initializers: [B.tensor("w", dims: [3], floats: [1, 2])]),
                      .typedDataCountMismatch(tensor: "w", field: "float_data", expected: 3, actual: 2))
        assertRefused(B.model(initializers: [B.tensor("w", dims: [2], type: ONNXElementType.int8, int32s: [1, 300])]),
                      .typedValueOutOfRange(tensor: "w", field: "int32_data", value: 300))
        assertRefused(B.model(initializers: [B.tensor("w", dims: [2])]), .missingData(tensor: "w"))
        assertRefused(B.model(initializers: [B.tensor("w", dims: [3], raw: Self.w3, segment: true)]), .segmentedTensor(tensor: "w"))
    }

    func testExternalDataDefects() throws {
        let external = ONNXTypes.externalDataLocation
        assertRefused(B.model(initializers: [B.tensor("w", dims: [3], external: [("offset", "0")], dataLocation: external)]),
                      .externalDataInvalid(tensor: "w", reason: "no location"))
        assertRefused(B.model(initializers: [B.tensor("w", dims: [3], external: [("location", "w.bin"), ("offset", "-4")])]),
                      .externalDataInvalid(tensor: "w", reason: "offset '-4' is not a non-negative integer"))
        assertRefused(B.model(initializers: [B.tensor("w", dims: [3], external: [("location", "w.bin"), ("length", "8")])]),
                      .externalDataInvalid(tensor: "w", reason: "length 8, but its type and dims need 12 bytes"))
        assertRefused(B.model(initializers: [B.tensor("w", dims: [3], external: [("location", "w.bin")])]),
                      .externalDataFromStdin(tensor: "w"))
        // In a folder: a backslash is refused before any file is looked at.
        let dir = try temporaryDirectory(self)
        assertRefused(B.model(initializers: [B.tensor("w", dims: [3], external: [("location", "..\\w.bin")])]),
                      .externalDataEscapes(tensor: "w", location: "..\\w.bin"), sideFiles: FolderSideFiles(besides: dir + "/m.onnx"))
    }

    func testSparseDefects() {
        let values = B.tensor("s", dims: [2], raw: B.le([Float(1), 2]))
        assertRefused(B.model(sparse: [B.sparse(values: nil, indices: nil, dims: [4])]), .sparseInvalid(tensor: "?", reason: "no values"))
        assertRefused(B.model(sparse: [B.sparse(values: values, indices: nil, dims: [4])]), .sparseInvalid(tensor: "s", reason: "no indices"))
        let backwards = B.tensor("i", dims: [2], type: ONNXElementType.int64, raw: B.le([Int64(3), 1]))
        assertRefused(B.model(sparse: [B.sparse(values: values, indices: backwards, dims: [4])]),
                      .sparseInvalid(tensor: "s", reason: "indices are not strictly increasing at entry 1"))
        let outside = B.tensor("i", dims: [2], type: ONNXElementType.int64, raw: B.le([Int64(1), 4]))
        assertRefused(B.model(sparse: [B.sparse(values: values, indices: outside, dims: [4])]),
                      .sparseInvalid(tensor: "s", reason: "index 4 out of range"))
        let ok = B.tensor("i", dims: [2], type: ONNXElementType.int64, raw: B.le([Int64(1), 3]))
        assertRefused(B.model(sparse: [B.sparse(values: values, indices: ok, dims: [1 << 20, 1 << 20])]),
                      .tooLargeToDensify(tensor: "s", bytes: 4 << 40))
        assertRefused(B.model(initializers: [B.tensor("s", dims: [1], raw: B.le([Float(0)]))],
                              sparse: [B.sparse(values: values, indices: ok, dims: [4])]), .duplicateInitializer("s"))
    }

    func testAttributeDefects() {
        func attr(_ type: Int32) -> [UInt8] { B.model(nodes: [B.node("n", op: "Relu", attribute: "a", type: type)]) }
        let kinds = ONNXAttributeKind.self
        assertRefused(attr(kinds.undefined.rawValue), .invalidAttribute(node: "n", attribute: "a", reason: "attribute type is UNDEFINED"))
        assertRefused(attr(99), .invalidAttribute(node: "n", attribute: "a", reason: "unknown attribute type 99"))
        assertRefused(attr(kinds.sparseTensor.rawValue),
                      .invalidAttribute(node: "n", attribute: "a", reason: "sparse tensor attributes are not supported"))
        assertRefused(attr(kinds.typeProtos.rawValue), .invalidAttribute(node: "n", attribute: "a", reason: "type attributes are not supported"))
        assertRefused(attr(kinds.tensor.rawValue), .invalidAttribute(node: "n", attribute: "a", reason: "TENSOR attribute without a tensor"))
    }

    /// External data read for a sparse initializer's values is an input like any other: its
    /// bytes are counted and no output may replace it (densify once worked on a copy of the
    /// reader's state and lost it).
    func testSparseExternalValuesAreRecordedAsInputs() throws {
        let dir = try temporaryDirectory(self)
        let data = B.le([Float(5), 7])
        FileManager.default.createFile(atPath: dir + "/v.bin", contents: Data(data))
        let values = B.tensor("s", dims: [2], external: [("location", "v.bin"), ("offset", "0"), ("length", "8")],
                              dataLocation: ONNXTypes.externalDataLocation)
        let indices = B.tensor("i", dims: [2], type: ONNXElementType.int64, raw: B.le([Int64(1), 3]))
        let bytes = B.model(sparse: [B.sparse(values: values, indices: indices, dims: [4])])
        FileManager.default.createFile(atPath: dir + "/m.onnx", contents: Data(bytes))
        let loaded = try ModelIO.read(path: dir + "/m.onnx")
        XCTAssertEqual(loaded.model.tensor(named: "s")?.floatValues(), [0, 5, 0, 7])
        XCTAssertEqual(loaded.inputBytes, bytes.count + data.count)
        XCTAssertThrowsError(try ModelIO.checkNotInput(dir + "/v.bin", loaded.identities)) {
            XCTAssertEqual($0 as? FileError, .outputIsInput(path: dir + "/v.bin"))
        }
    }
}
