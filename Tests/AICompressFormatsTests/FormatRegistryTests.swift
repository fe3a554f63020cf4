import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// The registry answers every lookup as the closed enum of switches it replaced did.
final class FormatRegistryTests: XCTestCase {
    /// The extension rule before the registry, kept as the oracle.
    func oldFromExtension(_ path: String) -> String? {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return nil }
        switch path[path.index(after: dot)...].lowercased() {
        case "ckpt": return "ckpt"
        case "onnx": return "onnx"
        case "safetensors": return "safetensors"
        case "gguf": return "gguf"  // added with the GGUF format
        case "json" where path.hasSuffix(".safetensors.index.json"): return "safetensors"
        default: return nil
        }
    }

    /// The content rule before the registry, kept as the oracle.
    func oldSniff(_ b: UnsafeRawBufferPointer) -> String? {
        if CheckpointReader.hasMagic(b) { return "ckpt" }
        if ONNXReader.looksLikeONNX(b) { return "onnx" }
        if SafetensorsReader.looksLikeSafetensors(b) { return "safetensors" }
        return nil
    }

    func testIdsOrderAndTexts() throws {
        // The first three, and the texts made from them, are what they were before the registry
        // (the CLI's help and error messages); a new format is appended after them.
        XCTAssertEqual(ModelFormat.allCases.prefix(3).map(\.rawValue), ["ckpt", "onnx", "safetensors"])
        XCTAssertEqual(ModelFormat.allCases, [.checkpoint, .onnx, .safetensors] + ModelFormat.allCases.dropFirst(3))
        XCTAssertEqual(FormatRegistry.idList, ModelFormat.allCases.map(\.rawValue).joined(separator: ", "))
        XCTAssertTrue(FormatRegistry.idList.hasPrefix("ckpt, onnx, safetensors"))
        if ModelFormat.allCases.count == 3 {
            XCTAssertEqual(FormatRegistry.extensionList, ".ckpt, .onnx and .safetensors")
            XCTAssertEqual(ModelFileError(path: "x", kind: .unknownFormat).description,
                           "x: unknown file format (aicompress reads .ckpt, .onnx and .safetensors)")
        }
        XCTAssertEqual(Set(ModelFormat.allCases.map(\.rawValue)).count, ModelFormat.allCases.count, "ids are unique")
        for f in ModelFormat.allCases { XCTAssertEqual(ModelFormat(rawValue: f.rawValue), f) }
        XCTAssertNil(ModelFormat(rawValue: "CKPT"), "ids are matched as written (the CLI lower-cases first)")
        XCTAssertNil(ModelFormat(rawValue: "tflite"))
        XCTAssertEqual(ModelIO.defaultFormat, .checkpoint)
        XCTAssertEqual(try ModelIO.outputFormat(path: "-", explicit: nil), .checkpoint)
        XCTAssertEqual(try ModelIO.outputFormat(path: "a.onnx", explicit: .safetensors), .safetensors)
        XCTAssertEqual(try ModelIO.outputFormat(path: "a.xyz", explicit: .checkpoint), .checkpoint)
        // An extension no format has is refused, not written as the default (issue 15 item 5).
        for path in ["a.xyz", "a.onnx.gz", "model", "dir.onnx/m"] {
            XCTAssertThrowsError(try ModelIO.outputFormat(path: path, explicit: nil), path) { error in
                let e = error as? ModelFileError
                XCTAssertEqual(e?.faultKind, .usage, path)
                XCTAssertEqual(e?.isOutput, true, path)
                XCTAssertEqual(e?.description.contains("--format (\(FormatRegistry.idList))"), true, path)
            }
        }
    }

    func testExtensionLookupMatchesTheOldSwitch() {
        let paths = [
            "m.ckpt", "m.CKPT", "m.Ckpt", "m.onnx", "M.ONNX", "m.safetensors", "m.SafeTensors", "dir/m.ckpt", "/m.onnx",
            "m.safetensors.index.json", "dir/model.safetensors.index.json", "m.SAFETENSORS.INDEX.JSON",
            "m.safetensors.index.JSON", "m.index.json", "m.json", "a.ckpt/b", "a.onnx/", "ckpt", ".ckpt", ".onnx",
            "m.ckpt.bak", "m.onnx.data", "m", "-", "", ".", "a.", "m.gguf", "x/.safetensors", "m.safetensors.json",
            "safetensors.index.json", ".safetensors.index.json", "m.ckpt ", "m.çkpt", "m.ONNX.",
        ]
        for p in paths { XCTAssertEqual(ModelFormat.fromExtension(of: p)?.rawValue, oldFromExtension(p), p) }
    }

    func testContentLookupMatchesTheOldChain() throws {
        var files: [String] = []
        for dir in ["valid", "malformed", "onnx", "onnx/malformed", "safetensors", "safetensors/malformed", "safetensors/edge",
                    "safetensors/sharded", "demo", "training"] {
            let url = fixturesURL.appendingPathComponent(dir)
            for name in try FileManager.default.contentsOfDirectory(atPath: url.path) {
                let path = url.appendingPathComponent(name).path
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue { files.append(path) }
            }
        }
        XCTAssertGreaterThan(files.count, 100)
        var seen = Set<String>()
        for path in files {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            let old = bytes.withUnsafeBytes { oldSniff($0) }
            XCTAssertEqual(bytes.withUnsafeBytes { ModelFormat.sniff($0) }?.rawValue, old, path)
            seen.insert(old ?? "none")
        }
        XCTAssertEqual(seen, ["ckpt", "onnx", "safetensors", "none"], "every answer is exercised")
        // Short and empty inputs.
        for n in 0..<12 {
            let b = [UInt8](repeating: 0x08, count: n)
            XCTAssertEqual(b.withUnsafeBytes { ModelFormat.sniff($0) }?.rawValue, b.withUnsafeBytes { oldSniff($0) })
        }
    }

    /// Every writer takes tensors as they arrive (ONNX and safetensors as file views, `WholeModelWriter`).
    func testWritersDeclareWhetherTheyStream() throws {
        let dir = try temporaryDirectory(self)
        for f in ModelFormat.allCases {
            let writer = try f.handler.makeWriter(WriteRequest(path: dir + "/x." + f.rawValue))
            XCTAssertTrue(writer.streams, f.rawValue)
            writer.abort()
            let session = try ModelIO.openWriter(path: dir + "/y." + f.rawValue, format: f)
            XCTAssertTrue(session.streams, f.rawValue)
            session.abort()
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], "aborted writers leave nothing")
    }
}
