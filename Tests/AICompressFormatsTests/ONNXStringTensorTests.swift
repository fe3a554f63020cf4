import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// STRING initializers (issue 15 item 10): skl2onnx classifiers with string class labels read,
/// and survive ONNX -> .ckpt -> ONNX as the same STRING initializer.
final class ONNXStringTensorTests: XCTestCase {
    let species = ["setosa", "versicolor", "virginica"]

    /// The STRING initializers in ONNX bytes: name -> (dims, strings), walked from the protobuf.
    func stringInitializers(_ bytes: [UInt8]) throws -> [String: ([Int64], [String])] {
        var out: [String: ([Int64], [String])] = [:]
        try bytes.withUnsafeBytes { raw in
            try ProtoWire.fields(raw, 0..<raw.count) { model in
                guard model.number == 7 else { return }
                try ProtoWire.fields(raw, model.payload) { g in
                    guard g.number == 5 else { return }
                    var name = "", type = 0, dims: [Int64] = [], strings: [String] = []
                    try ProtoWire.fields(raw, g.payload) { f in
                        switch f.number {
                        case 1: dims.append(Int64(bitPattern: f.value))
                        case 2: type = Int(f.value)
                        case 6: strings.append(String(decoding: raw[f.payload], as: UTF8.self))
                        case 8: name = String(decoding: raw[f.payload], as: UTF8.self)
                        default: break
                        }
                    }
                    if type == 8 { out[name] = (dims, strings) }
                }
            }
        }
        return out
    }

    func testStringClassLabelsReadAndRoundTrip() throws {
        let path = fixture("onnx/skl-mlp-strings.onnx")
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(try stringInitializers(original)["classes"]?.1, species, "the fixture holds a STRING initializer")
        let model = try ModelIO.read(path: path).model
        XCTAssertEqual(model.tensors.map(\.name), ["coefficient", "intercepts", "coefficient1", "intercepts1", "shape_tensor"])
        let graph = try XCTUnwrap(model.graph)
        let strings = ONNXStringTensors.stringTensors(in: graph)
        XCTAssertEqual(strings.map(\.name), ["classes"])
        XCTAssertEqual(strings.first?.shape, [3])
        XCTAssertEqual(strings.first?.values, species)

        let dir = try temporaryDirectory(self)
        try ModelIO.write(model, to: dir + "/m.ckpt", format: .checkpoint)
        let viaCheckpoint = try ModelIO.read(path: dir + "/m.ckpt").model
        XCTAssertEqual(viaCheckpoint.graph, model.graph, ".ckpt keeps the strings")
        XCTAssertEqual(viaCheckpoint.tensors, model.tensors)
        for (name, m) in [("direct", model), ("via-ckpt", viaCheckpoint)] {
            let out = dir + "/\(name).onnx"
            try ModelIO.write(m, to: out, format: .onnx)
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: out)))
            let written = try stringInitializers(bytes)
            XCTAssertEqual(written.keys.sorted(), ["classes"], name)
            XCTAssertEqual(written["classes"]?.0, [3], name)
            XCTAssertEqual(written["classes"]?.1, species, name)
            let back = try ModelIO.read(path: out).model
            XCTAssertEqual(back.graph?.nodes, model.graph?.nodes, "\(name): no carrier node in the file, the same graph read back")
            XCTAssertFalse(String(decoding: bytes, as: UTF8.self).contains(ONNXStringTensors.nodeName), "\(name): the marker stays inside aicompress")
        }
    }

    func testMalformedStringInitializerIsRefused() throws {
        var t = TensorRecord()
        t.name = "labels"
        t.dims = [2, 2]
        t.dataType = ONNXStringTensors.elementType
        t.stringData = [Array("a".utf8)]
        XCTAssertThrowsError(try ONNXStringTensors.node(t)) {
            XCTAssertEqual($0 as? ONNXError, .typedDataCountMismatch(tensor: "labels", field: "string_data", expected: 4, actual: 1))
        }
        t.dims = [-1]
        XCTAssertThrowsError(try ONNXStringTensors.node(t)) { XCTAssertEqual($0 as? ONNXError, .negativeDimension(tensor: "labels", dims: [-1])) }
    }
}
