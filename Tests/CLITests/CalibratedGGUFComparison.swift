import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// A calibrated `quantize --gguf` file next to round-to-nearest's, tensor by tensor.
struct CalibratedGGUFComparison {
    /// The names of the tensors whose stored bytes differ from round-to-nearest's.
    var changed: Set<String>
    /// The calibrated file.
    var path: String
    /// The round-to-nearest file.
    var roundToNearest: String
}

extension CLITestCase {
    /// Runs `quantize --gguf type` once round-to-nearest and twice with the calibrated `flags` (the
    /// second quietly), asserts that the calibrated run's report names `reportContains`, that the
    /// two calibrated files are the same bytes, and that every tensor keeps round-to-nearest's
    /// name, order, encoding, dtype, shape and stored size: a calibrated method moves values only.
    func compareCalibratedGGUF(type: String, flags: [String], input: String, dir: String, reportContains: String,
                               file: StaticString = #filePath, line: UInt = #line) throws -> CalibratedGGUFComparison {
        let rtnPath = dir + "/rtn.gguf", aPath = dir + "/a.gguf", bPath = dir + "/b.gguf"
        let rtn = try run(["quantize", "--gguf", type, "-q", input, rtnPath])
        XCTAssertEqual(rtn.status, 0, rtn.stderr, file: file, line: line)
        let a = try run(["quantize", "--gguf", type] + flags + [input, aPath])
        XCTAssertEqual(a.status, 0, a.stderr, file: file, line: line)
        XCTAssertTrue(a.stderr.contains(reportContains), a.stderr, file: file, line: line)
        let b = try run(["quantize", "--gguf", type] + flags + ["-q", input, bPath])
        XCTAssertEqual(b.status, 0, b.stderr, file: file, line: line)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: aPath)), try Data(contentsOf: URL(fileURLWithPath: bPath)),
                       "\(type): the same bytes twice", file: file, line: line)
        let ours = try ModelIO.read(path: aPath).model, ref = try ModelIO.read(path: rtnPath).model
        XCTAssertEqual(ours.tensors.map(\.name), ref.tensors.map(\.name), file: file, line: line)
        var changed = Set<String>()
        for (o, r) in zip(ours.tensors, ref.tensors) {
            XCTAssertEqual(o.encoding, r.encoding, o.name, file: file, line: line)
            XCTAssertEqual(o.dtype, r.dtype, o.name, file: file, line: line)
            XCTAssertEqual(o.shape, r.shape, o.name, file: file, line: line)
            XCTAssertEqual(o.storedBytes, r.storedBytes, o.name, file: file, line: line)
            if !o.data.withUnsafeBytes({ x in r.data.withUnsafeBytes { y in x.elementsEqual(y) } }) { changed.insert(o.name) }
        }
        return CalibratedGGUFComparison(changed: changed, path: aPath, roundToNearest: rtnPath)
    }
}
