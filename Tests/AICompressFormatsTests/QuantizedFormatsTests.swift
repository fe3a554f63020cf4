import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// Quantized tensors through every format: bit for bit back.
final class QuantizedFormatsTests: XCTestCase {
    /// cnn.onnx with every weight of rank 2 or more quantized in each of four layouts (per
    /// channel, per tensor with zero points, 4-bit groups), built here from Core types.
    func quantizedModels() throws -> [(String, Model)] {
        let base = try ModelIO.read(path: fixture("onnx/cnn.onnx")).model
        return try Self.layouts.map { name, params in
            var model = Model()
            for t in base.tensors {
                try model.append(t.dtype == .f32 && t.shape.rank >= 2 ? try Self.quantized(t, params(t.shape.rank)) : t)
            }
            model.metadata = base.metadata
            model.graph = base.graph
            return (name, model)
        }
    }

    /// The four layouts, by tensor rank.
    static let layouts: [(String, @Sendable (Int) -> QuantizationParameters)] = [
        ("int8", { _ in QuantizationParameters(storage: .int8, axis: 0, hasZeroPoint: false) }),
        ("uint8 per-tensor", { _ in QuantizationParameters(storage: .uint8, axis: nil, hasZeroPoint: true) }),
        ("int4 g8", { _ in QuantizationParameters(storage: .int4, axis: 1, blockSize: 8, hasZeroPoint: false) }),
        ("uint4 g32", { rank in QuantizationParameters(storage: .uint4, axis: rank - 1, blockSize: 32, hasZeroPoint: true) }),
    ]

    /// `t` quantized with `params`: each group's scale from its largest magnitude (and a zero
    /// point from its minimum when asymmetric), values rounded to the nearest step.
    static func quantized(_ t: Tensor, _ params: QuantizationParameters) throws -> Tensor {
        let layout = try QuantizedLayout(shape: t.shape, parameters: params)
        let values = t.floatValues()
        let storage = params.storage
        var lo = [Float](repeating: 0, count: layout.scaleCount), hi = lo
        for (k, v) in values.enumerated() {
            let s = layout.scaleIndex(k)
            lo[s] = min(lo[s], v)
            hi[s] = max(hi[s], v)
        }
        var payload = [UInt8](repeating: 0, count: layout.payloadBytes)
        func store(_ q: Int, at k: Int, base: Int) {
            if storage.bits == 8 { payload[base + k] = UInt8(truncatingIfNeeded: q) } else {
                payload[base + k / 2] |= UInt8(q & 0x0F) << (k % 2 == 0 ? 0 : 4)
            }
        }
        var zeroPoints = [Int](repeating: 0, count: layout.scaleCount)
        var scales = [Float](repeating: 1, count: layout.scaleCount)
        for s in 0..<layout.scaleCount {
            let range = params.hasZeroPoint ? hi[s] - lo[s] : 2 * max(-lo[s], hi[s])
            let scale = range > 0 ? range / Float(storage.qmax - storage.qmin) : 1
            scales[s] = scale
            if params.hasZeroPoint { zeroPoints[s] = min(storage.qmax, max(storage.qmin, storage.qmin - Int((lo[s] / scale).rounded()))) }
            withUnsafeBytes(of: scale.bitPattern.littleEndian) { for (i, b) in $0.enumerated() { payload[layout.scalesOffset + 4 * s + i] = b } }
            if params.hasZeroPoint { store(zeroPoints[s], at: s, base: layout.zeroPointsOffset) }
        }
        for (k, v) in values.enumerated() {
            let s = layout.scaleIndex(k)
            let q = Int((v / scales[s]).rounded()) + zeroPoints[s]
            store(min(storage.qmax, max(storage.qmin, q)), at: k, base: 0)
        }
        return try Tensor(name: t.name, dtype: t.dtype, shape: t.shape, encoding: .quantized(params), data: TensorData(bytes: payload))
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
