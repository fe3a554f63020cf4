import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// ONNX and safetensors writers take tensors one at a time (mapped views kept, others parked in
/// a scratch file) and must still write exactly what the whole-model writers write in memory.
final class StreamingWriterTests: XCTestCase {
    /// A model mixing heap tensors, views of a mapped file (large enough for the kernel copy),
    /// a sparse tensor and quantized tensors.
    func mixedModel(_ dir: String) throws -> Model {
        var source = Model()
        let big = 300_000  // f32 elements: 1.2 MB, over the kernel-copy threshold
        try source.append(try Tensor(name: "mapped.big", dtype: .f32, shape: [big], data: TensorData(bytes: pseudoRandomBytes(4 * big, seed: 1))))
        try source.append(try Tensor(name: "mapped.small", dtype: .f16, shape: [3, 5], data: TensorData(bytes: pseudoRandomBytes(30, seed: 2))))
        try ModelIO.write(source, to: dir + "/source.ckpt", format: .checkpoint)
        let mapped = try ModelIO.read(path: dir + "/source.ckpt").model
        XCTAssertNotNil(mapped.tensors[0].data.buffer.fileDescriptor, "a read tensor views its mapped file")

        var model = Model()
        try model.append(mapped.tensors[0])
        try model.append(try Tensor(name: "heap.big", dtype: .f32, shape: [600, 500], data: TensorData(bytes: pseudoRandomBytes(1_200_000, seed: 3))))
        var dense = [Float](repeating: 0, count: 4096)
        for k in stride(from: 0, to: dense.count, by: 7) { dense[k] = Float(k) * 0.5 - 3 }
        let denseData = TensorData(values: dense)
        let (payload, nonZeros) = denseData.withUnsafeBytes { SparseLayout.encode(dense: $0, dtype: .f32, count: dense.count) }
        try model.append(try Tensor(name: "sparse", dtype: .f32, shape: [64, 64], encoding: .sparse(nonZeros: nonZeros),
                                    data: TensorData(payload)))
        try model.append(mapped.tensors[1])
        let quantized = try QuantizedFormatsTests(name: "helper", testClosure: { _ in }).quantizedModels()[0].1
        for t in quantized.tensors where !t.isDense { try model.append(t) }
        model.metadata = ["note": "mixed", "z": "last"]
        return model
    }

    func testSafetensorsStreamedEqualsWholeModelWriter() throws {
        let dir = try temporaryDirectory(self)
        let model = try mixedModel(dir)
        var expected = MemorySink()
        try SafetensorsWriter.write(tensors: model.tensors, metadata: model.metadata, to: &expected)
        try ModelIO.write(model, to: dir + "/out.safetensors", format: .safetensors)
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/out.safetensors"))), expected.bytes)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["out.safetensors", "source.ckpt"],
                       "no scratch file is left")
    }

    func testShardedSafetensorsStreamedEqualsInMemoryShards() throws {
        let dir = try temporaryDirectory(self), other = try temporaryDirectory(self)
        let model = try mixedModel(dir)
        // The same model with every tensor on the heap: written with nothing to spill or map.
        var heap = Model()
        for t in model.tensors {
            var c = t
            c.data = TensorData(bytes: t.data.byteArray)
            try heap.append(c)
        }
        heap.metadata = model.metadata
        try ModelIO.write(model, to: dir + "/out.safetensors", format: .safetensors, shardSize: 1_000_000)
        try ModelIO.write(heap, to: other + "/out.safetensors", format: .safetensors, shardSize: 1_000_000)
        let names = try FileManager.default.contentsOfDirectory(atPath: other).sorted()
        XCTAssertGreaterThan(names.count, 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), (names + ["source.ckpt"]).sorted())
        for n in names {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + n)), try Data(contentsOf: URL(fileURLWithPath: other + "/" + n)), n)
        }
    }

    func testONNXStreamedEqualsWholeModelWriter() throws {
        let dir = try temporaryDirectory(self)
        let model = try mixedModel(dir)
        for external in [false, true] {
            let options = ONNXWriteOptions(externalData: external)
            var expected = MemorySink()
            var side: MemorySink? = external ? MemorySink() : nil
            try ONNXWriter.write(model, to: &expected, options: options, external: &side, externalLocation: "out.onnx.data")
            try ModelIO.write(model, to: dir + "/out.onnx", format: .onnx, onnx: options)
            XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/out.onnx"))), expected.bytes, "external \(external)")
            if let side {
                XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/out.onnx.data"))), side.bytes)
            }
        }
    }

    /// The kernel copy of a mapped view writes exactly the view's bytes at the file's position,
    /// between buffered writes.
    func testKernelCopyOfMappedViewIsExact() throws {
        let dir = try temporaryDirectory(self)
        let bytes = pseudoRandomBytes(3 << 20, seed: 9)
        FileManager.default.createFile(atPath: dir + "/in.bin", contents: Data(bytes))
        let input = try InputFile(path: dir + "/in.bin")
        let view = try XCTUnwrap(TensorData(buffer: input.buffer, offset: 12_345, count: 2 << 20))
        var out = try OutputFile(path: dir + "/out.bin")
        try out.write([1, 2, 3])
        try out.write(view)
        try out.write([4])
        try out.commit()
        XCTAssertEqual(out.bytesWritten, 4 + (2 << 20))
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/out.bin"))),
                       [1, 2, 3] + bytes[12_345..<(12_345 + (2 << 20))] + [4])
    }

    /// A writer refuses a repeated tensor name as it arrives, before anything is parked.
    func testDuplicateNameRefusedOnAppend() throws {
        let dir = try temporaryDirectory(self)
        let session = try ModelIO.openWriter(path: dir + "/d.safetensors", format: .safetensors)
        let t = try Tensor(name: "w", shape: [2], floats: [1, 2])
        try session.append(t, releasing: nil)
        XCTAssertThrowsError(try { try session.append(t, releasing: nil); try session.finish(metadata: [:], graph: nil) }()) {
            XCTAssertTrue("\($0)".contains("w"), "\($0)")
        }
        session.abort()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }
}
