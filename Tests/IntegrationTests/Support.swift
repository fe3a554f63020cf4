import AICompressCore
import AICompressFormats
import Foundation

/// The repository's fixtures/ folder (tests here cross modules: formats read, passes run, the
/// executor checks; the module test targets stay independent of each other).
let fixturesURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("fixtures")

func fixture(_ path: String) -> String { fixturesURL.appendingPathComponent(path).path }

/// Reads ONNX bytes held in memory (external data refused).
func readONNX(_ bytes: [UInt8]) throws -> Model {
    try ONNXReader.read(bytes.withUnsafeBytes { ByteBuffer.copying($0) }, sideFiles: NoSideFiles()).model
}
