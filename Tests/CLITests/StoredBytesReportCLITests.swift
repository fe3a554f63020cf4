import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// The pass report's sizes after a pass are the bytes the output file stores (issue 15 item 8):
/// dense zeros for ONNX and safetensors, the sparse encoding for .ckpt, sparse_initializer with
/// --sparse-initializers, and the lowered pieces of quantized tensors. Each figure is checked
/// against the tensor bytes found in the written file.
final class StoredBytesReportCLITests: CLITestCase {
    /// Tensor bytes per stored tensor of the file at `path`, read from the file's own layout:
    /// the .ckpt index, the safetensors header, the ONNX initializers' raw_data (values plus
    /// indices for a sparse_initializer).
    func storedTensorBytes(_ path: String) throws -> [String: Int] {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        if path.hasSuffix(".ckpt") {
            return Dictionary(uniqueKeysWithValues: try ModelIO.read(path: path).model.tensors.map { ($0.name, $0.storedBytes) })
        }
        if path.hasSuffix(".safetensors") {
            let n = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
            var out: [String: Int] = [:]
            for (name, entry) in header where name != "__metadata__" {
                let offsets = try XCTUnwrap((entry as? [String: Any])?["data_offsets"] as? [Int])
                out[name] = offsets[1] - offsets[0]
            }
            return out
        }
        var out: [String: Int] = [:]
        try bytes.withUnsafeBytes { raw in
            // (name, raw_data bytes) of a TensorProto
            func tensor(_ range: Range<Int>) throws -> (String, Int) {
                var name = "", size = 0
                try ProtoWire.fields(raw, range) { f in
                    if f.number == 8 { name = String(decoding: raw[f.payload], as: UTF8.self) }
                    if f.number == 9 { size = f.payload.count }
                }
                return (name, size)
            }
            try ProtoWire.fields(raw, 0..<raw.count) { model in
                guard model.number == 7 else { return }
                try ProtoWire.fields(raw, model.payload) { g in
                    if g.number == 5 {
                        let (name, size) = try tensor(g.payload)
                        out[name] = size
                    } else if g.number == 15 {
                        var name = "", size = 0
                        try ProtoWire.fields(raw, g.payload) { s in
                            guard s.number == 1 || s.number == 2 else { return }
                            let (n, b) = try tensor(s.payload)
                            if s.number == 1 { name = n }
                            size += b
                        }
                        out[name] = size
                    }
                }
            }
        }
        return out
    }

    /// Runs `args + [input, out]` with --report-json and checks every figure against the file.
    /// `pieces` maps a reported tensor to the stored tensors it became.
    func checkReport(_ args: [String], input: String, out: String, pieces: (String, [String: Int]) -> [String]) throws -> String {
        let report = out + ".json"
        let r = try run(args + ["--report-json", report, input, out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try jsonObject(atPath: report)
        let stored = try storedTensorBytes(out)
        let totals = try XCTUnwrap(json["totals"] as? [String: Any])
        let label = (args + [out]).joined(separator: " ")
        XCTAssertEqual(totals["bytes_after"] as? Int, stored.values.reduce(0, +), "\(label): total = the file's tensor bytes")
        for t in try XCTUnwrap(json["tensors"] as? [[String: Any]]) {
            let name = try XCTUnwrap(t["name"] as? String)
            let names = pieces(name, stored)
            XCTAssertFalse(names.isEmpty, "\(label): \(name) is in the file")
            XCTAssertEqual(t["bytes_after"] as? Int, names.map { stored[$0] ?? -1 }.reduce(0, +), "\(label): \(name)")
        }
        return r.stderr
    }

    func testPruneReportGivesTheBytesEachFormatStores() throws {
        let dir = try tempDir(), mlp = fixture("demo/mlp-digits.ckpt")
        let same: (String, [String: Int]) -> [String] = { name, stored in stored[name] == nil ? [] : [name] }
        var totals: [String: Int] = [:]
        for (file, extra) in [("p.ckpt", []), ("p.onnx", []), ("p.safetensors", []), ("psi.onnx", ["--sparse-initializers"])] {
            let stderr = try checkReport(["prune", "--keep", "0.3"] + extra, input: mlp, out: dir + "/" + file, pieces: same)
            totals[file] = try storedTensorBytes(dir + "/" + file).values.reduce(0, +)
            let note = stderr.split(separator: "\n").last { $0.hasPrefix("note:") }.map(String.init)
            if file == "p.ckpt" {
                XCTAssertNil(note, stderr)
            } else {
                XCTAssertTrue(note?.contains("where .ckpt would store them in 3.1 KiB (3,136 bytes)") == true, "\(file): \(stderr)")
            }
            if file == "p.onnx" { XCTAssertTrue(note?.contains("--sparse-initializers") == true, stderr) }
        }
        // 70% zeros stored densely take the input's size; the .ckpt bitmask encoding does not.
        XCTAssertEqual(totals["p.onnx"], 9640)
        XCTAssertEqual(totals["p.safetensors"], 9640)
        XCTAssertLessThan(try XCTUnwrap(totals["p.ckpt"]), 9640 / 2)
        XCTAssertLessThan(try XCTUnwrap(totals["psi.onnx"]), 9640)
    }

    func testQuantizeReportGivesTheBytesEachFormatStores() throws {
        let dir = try tempDir(), mlp = fixture("demo/mlp-digits.ckpt")
        // safetensors: NAME + NAME_scale + NAME_zero_point; ONNX: NAME_quantized + NAME_scale + NAME_zero_point.
        let lowered: (String, [String: Int]) -> [String] = { name, stored in
            [name, name + "_quantized", name + "_scale", name + "_zero_point"].filter { stored[$0] != nil }
        }
        // An f16 model too: ONNX stores its scales as f16, .ckpt and safetensors as f32.
        let half = dir + "/half.ckpt"
        XCTAssertEqual(try run(["quantize", "-q", "--fp16", mlp, half]).status, 0)
        for input in [mlp, half] {
            for scheme in [["--int8"], ["--uint8"], ["--int4"], ["--int4", "--asymmetric"], ["--fp16"]] where input == mlp || scheme != ["--fp16"] {
                for ext in ["ckpt", "onnx", "safetensors"] {
                    let out = dir + "/q\(scheme.joined())\(input == half ? "-half" : "")." + ext
                    _ = try checkReport(["quantize"] + scheme, input: input, out: out, pieces: ext == "ckpt" ? { n, _ in [n] } : lowered)
                }
            }
        }
    }
}
