import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// The repository's fixtures/ folder.
let fixturesURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("fixtures")

func fixture(_ path: String) -> String { fixturesURL.appendingPathComponent(path).path }

/// A fresh temporary folder per test, removed afterwards.
func temporaryDirectory(_ test: XCTestCase) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("aicompress-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir.path
}

/// Serialises a model to bytes in memory.
func checkpointBytes(_ model: Model) throws -> [UInt8] {
    try CheckpointWriter.write(model, to: MemorySink()).bytes
}

/// Parses checkpoint bytes held in memory.
func readCheckpoint(_ bytes: [UInt8]) throws -> (model: Model, info: CheckpointInfo) {
    try CheckpointReader.read(bytes.withUnsafeBytes { ByteBuffer.copying($0) })
}

/// Deterministic pseudo-random bytes (xorshift64).
func pseudoRandomBytes(_ n: Int, seed: UInt64) -> [UInt8] {
    var s = seed == 0 ? 1 : seed
    var out = [UInt8](repeating: 0, count: n)
    var i = 0
    while i < n {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        withUnsafeBytes(of: s) { word in
            for b in word where i < n {
                out[i] = b
                i += 1
            }
        }
    }
    return out
}

/// A graph that uses every attribute kind, nested graphs and every dimension kind.
func sampleGraph() throws -> Graph {
    let inline = try Tensor(name: "c", shape: [2], floats: [1, 2])
    let unnamed = try Tensor(name: "", dtype: .i64, shape: [], data: TensorData(values: [Int64(-7)]))
    let sub = Graph(name: "sub", outputs: [ValueInfo(name: "z", elemType: 1, shape: nil)],
                    nodes: [Node(opType: "Identity", inputs: ["x"], outputs: ["z"])])
    return Graph(
        name: "g",
        opsets: [OpsetImport(domain: "", version: 17), OpsetImport(domain: "ai.onnx.ml", version: 3)],
        inputs: [ValueInfo(name: "x", elemType: 1, shape: [.symbolic("N"), .fixed(3)])],
        outputs: [ValueInfo(name: "y", elemType: 1, shape: [.unknown, .fixed(3)])],
        valueInfo: [ValueInfo(name: "h", elemType: 10, shape: [])],
        nodes: [
            Node(name: "n0", opType: "Gemm", inputs: ["x", "w", ""], outputs: ["y"], attributes: [
                Attribute(name: "alpha", value: .float(0.5)),
                Attribute(name: "transB", value: .int(1)),
                Attribute(name: "mode", value: .string(Array("abc".utf8))),
                Attribute(name: "t", value: .tensor(inline)),
                Attribute(name: "g", value: .graph(sub)),
                Attribute(name: "fs", value: .floats([1.5, -.infinity])),
                Attribute(name: "is", value: .ints([1, -2, .max])),
                Attribute(name: "ss", value: .strings([[], [0xFF, 0x00]])),
                Attribute(name: "ts", value: .tensors([inline, unnamed])),
                Attribute(name: "gs", value: .graphs([sub, Graph()])),
            ]),
            Node(opType: "MyCustomOp", domain: "com.example", inputs: ["y"], outputs: ["q", "r"]),
        ])
}
