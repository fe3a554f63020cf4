import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

final class AtomicWriteTests: XCTestCase {
    func listing(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
    }

    /// A write that fails part-way (an unrepresentable last tensor) leaves the previous output
    /// untouched and no temporary file behind.
    func testFailedWriteLeavesNoPartialOutput() throws {
        let dir = try temporaryDirectory(self)
        let path = dir + "/out.ckpt"
        let good = try Model(tensors: [try Tensor(name: "a", shape: [4], floats: [1, 2, 3, 4])])
        try ModelIO.write(good, to: path, format: .checkpoint)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let bad = try Model(tensors: [
            try Tensor(name: "a", shape: [1 << 18], floats: [Float](repeating: 1, count: 1 << 18)),
            try Tensor(name: String(repeating: "n", count: 5000), shape: [1], floats: [1]),
        ])
        XCTAssertThrowsError(try ModelIO.write(bad, to: path, format: .checkpoint))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try listing(dir), ["out.ckpt"])

        let fresh = dir + "/new.ckpt"
        XCTAssertThrowsError(try ModelIO.write(bad, to: fresh, format: .checkpoint))
        XCTAssertEqual(try listing(dir), ["out.ckpt"], "no output and no temporary file")
    }

    func testMissingFolderIsACreateError() throws {
        let dir = try temporaryDirectory(self)
        XCTAssertThrowsError(try ModelIO.write(Model(), to: dir + "/no/such/dir/x.ckpt", format: .checkpoint)) {
            guard case .cannotCreate(_, let e) = $0 as? FileError else { return XCTFail("\($0)") }
            XCTAssertEqual(e, ENOENT)
        }
    }

    func testOutputMayNotReplaceInput() throws {
        let dir = try temporaryDirectory(self)
        let path = dir + "/m.ckpt"
        try ModelIO.write(Model(), to: path, format: .checkpoint)
        let loaded = try ModelIO.read(path: path)
        XCTAssertThrowsError(try ModelIO.write(loaded.model, to: dir + "/./m.ckpt", format: .checkpoint, refusing: loaded.identities)) {
            XCTAssertEqual($0 as? FileError, .outputIsInput(path: dir + "/./m.ckpt"))
        }
    }

    func testDirectoryIsNotAModel() throws {
        let dir = try temporaryDirectory(self)
        // An empty folder names no model file (ModelFolderTests has the folders that do).
        XCTAssertThrowsError(try ModelIO.read(path: dir)) { XCTAssertEqual($0 as? FileError, .folderWithoutModel(path: dir, modelFiles: [])) }
    }

    func testDeterministicFiles() throws {
        let dir = try temporaryDirectory(self)
        let model = try Model(tensors: [try Tensor(name: "w", shape: [3], floats: [1, 2, 3])],
                              metadata: ["z": "1", "a": "2", "m": "3"], graph: try sampleGraph())
        try ModelIO.write(model, to: dir + "/1.ckpt", format: .checkpoint)
        try ModelIO.write(model, to: dir + "/2.ckpt", format: .checkpoint)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/1.ckpt")), try Data(contentsOf: URL(fileURLWithPath: dir + "/2.ckpt")))
    }
}
