import AICompressCore
@testable import AICompressFormats
import AICompressPasses
import Foundation
import XCTest

/// Quantized tensors through every format: bit for bit back.
final class QuantizedFormatsTests: XCTestCase {
    func quantizedModels() throws -> [(String, Model)] {
        let base = try ModelIO.read(path: fixture("onnx/cnn.onnx")).model
        let schemes: [(String, Quantize)] = [
            ("int8", Quantize(scheme: .int8)), ("uint8 per-tensor", Quantize(scheme: .uint8, granularity: .perTensor)),
            ("int4 g8", Quantize(scheme: .int4, granularity: .group(8))), ("uint4 g32", Quantize(scheme: .uint4)),
        ]
        return try schemes.map { ($0.0, try $0.1.apply(base).0) }
    }

    func testCheckpointRoundTrip() throws {
        for (name, model) in try quantizedModels() {
            let bytes = try checkpointBytes(model)
            let (back, _) = try readCheckpoint(bytes)
            XCTAssertEqual(back.tensors, model.tensors, name)
            XCTAssertEqual(try checkpointBytes(back), bytes, name)
        }
    }

    /// A quantized tensor with bad parameters or a wrong length is refused.
    func testCheckpointChecksQuantizedEntries() throws {
        let (_, model) = try quantizedModels()[0]
        var bytes = try checkpointBytes(model)
        // Find the first quantized entry's encoding_params (storage byte 5 = int8, 12 bytes) and
        // corrupt its axis to 9 — then fix the index CRC so only this check fires.
        let footer = bytes.count - 32
        let indexOffset = Int(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: footer, as: UInt64.self) })
        let paramsMarker: [UInt8] = [12, 0, 0, 0, 5, 0, 0, 0]
        guard let at = (indexOffset..<(footer - 8)).first(where: { Array(bytes[$0..<($0 + 8)]) == paramsMarker }) else {
            return XCTFail("no quantized entry found")
        }
        bytes[at + 8] = 9
        let crc = CRC32.checksum(Array(bytes[indexOffset..<footer]))
        withUnsafeBytes(of: crc.littleEndian) { for (i, b) in $0.enumerated() { bytes[footer + 16 + i] = b } }
        XCTAssertThrowsError(try readCheckpoint(bytes)) {
            guard case .invalidEncodingParams = $0 as? CheckpointError else { return XCTFail("\($0)") }
        }
    }

    func testONNXQDQRoundTrip() throws {
        let dir = try temporaryDirectory(self)
        for (name, model) in try quantizedModels() {
            let path = dir + "/q.onnx"
            try ModelIO.write(model, to: path, format: .onnx)
            let back = try ModelIO.read(path: path).model
            XCTAssertEqual(back.tensors, model.tensors, "\(name): DequantizeLinear folded back into the same tensors")
            XCTAssertEqual(back.graph?.nodes.map(\.opType), model.graph?.nodes.map(\.opType), name)
        }
    }

    func testSafetensorsRoundTrip() throws {
        let dir = try temporaryDirectory(self)
        for (name, model) in try quantizedModels() {
            let path = dir + "/q.safetensors"
            try ModelIO.write(model, to: path, format: .safetensors)
            let back = try ModelIO.read(path: path).model
            XCTAssertEqual(back.tensors.sorted { $0.name < $1.name }, model.tensors.sorted { $0.name < $1.name }, name)
        }
    }
}
