import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// One malformed fixture per error case (fixtures/malformed, made by fixtures/make_fixtures.py),
/// each asserting the exact error.
final class MalformedCheckpointTests: XCTestCase {
    static let expected: [String: CheckpointError] = [
        "too-short": .truncated(fileSize: 10),
        "truncated": .badEndMagic,
        "bad-magic": .badMagic,
        "bad-end-magic": .badEndMagic,
        "unknown-version": .unsupportedVersion(major: 2, minor: 0),
        "unknown-flags": .unknownFlags(1),
        "nonzero-reserved": .nonZeroReserved(offset: 63),
        "index-out-of-range": .indexOutOfRange(offset: 640, length: 306, fileSize: 530),
        "index-too-large": .indexTooLarge(length: 1 << 40),
        "index-crc-mismatch": .indexChecksumMismatch(stored: 0xF52B_3D69, computed: 0xE2AE_99A6),
        "index-truncated": .indexTruncated(offset: 192, what: "3 tensor count"),
        "index-trailing-bytes": .indexTrailingBytes(offset: 498, count: 4),
        "tensor-count-over-limit": .limitExceeded(what: "tensor count", value: 1 << 40, limit: 1 << 20, offset: 192),
        "tensor-out-of-range": .tensorOutOfRange(tensor: "b", offset: 128, length: 8000, dataEnd: 192),
        "tensor-overlap": .tensorOverlap(tensor: "b", offset: 64, previousEnd: 80),
        "tensor-gap": .tensorGap(tensor: "b", offset: 192, expected: 128),
        "tensor-misaligned": .tensorMisaligned(tensor: "b", offset: 132),
        "nonzero-padding": .nonZeroPadding(offset: 100),
        "crc-mismatch": .checksumMismatch(tensor: "b", offset: 128, stored: 0xF660_72AF, computed: 0xEC5B_E105),
        "duplicate-name": .duplicateTensorName("a", offset: 241),
        "empty-name": .emptyName(what: "tensor name", offset: 241),
        "invalid-utf8-name": .invalidUTF8(what: "tensor name", offset: 241),
        "name-too-long": .limitExceeded(what: "length of tensor name", value: 5000, limit: 4096, offset: 241),
        "shape-overflow": .shapeOverflow(tensor: "b", dims: [1 << 62, 1 << 62], offset: 241),
        "dim-too-large": .limitExceeded(what: "dimension of tensor 'b'", value: 1 << 63, limit: 1 << 62, offset: 250),
        "rank-too-large": .limitExceeded(what: "rank of tensor 'b'", value: 40, limit: 32, offset: 248),
        "length-mismatch": .dataLengthMismatch(tensor: "b", expected: 16, actual: 12, offset: 274),
        "unknown-dtype": .unknownDType(tensor: "b", code: 99, offset: 246),
        "unknown-encoding": .unknownEncoding(tensor: "b", code: 7, offset: 247),
        "metadata-unsorted": .metadataKeyOrder("demo.a", offset: 313),
        "metadata-duplicate-key": .metadataKeyOrder("demo.a", offset: 313),
        "graph-too-deep": .limitExceeded(what: "graph nesting depth", value: 9, limit: 8, offset: 972),
        "graph-bad-attribute-kind": .invalidGraph(reason: "attribute 'transB' has unknown kind 42", offset: 485),
        // Encoding 4, sparse + quantized (fixtures/make_sparse_quantized.py).
        "sq-params-length": .invalidEncodingParams(tensor: "w8", offset: 182),
        "sq-nnz-over-count": .invalidEncodingParams(tensor: "w8", offset: 182),
        "sq-bad-storage": .invalidEncodingParams(tensor: "w8", offset: 182),
        "sq-bad-axis": .invalidEncodingParams(tensor: "w8", offset: 182),
        "sq-not-float": .invalidEncodingParams(tensor: "w8", offset: 182),
        "sq-length-mismatch": .dataLengthMismatch(tensor: "w8", expected: 56, actual: 48, offset: 170),
        "sq-mask-count": .sparseMaskMismatch(tensor: "w8", offset: 64),
        "sq-mask-past-count": .sparseMaskMismatch(tensor: "w8", offset: 64),
    ]

    func testEveryMalformedFixtureGivesItsExactError() throws {
        let dir = fixturesURL.appendingPathComponent("malformed")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".ckpt") }
        XCTAssertEqual(Set(files.map { String($0.dropLast(5)) }), Set(Self.expected.keys), "one expectation per fixture")
        for file in files.sorted() {
            let path = dir.appendingPathComponent(file).path
            do {
                _ = try ModelIO.read(path: path)
                XCTFail("\(file) was accepted")
            } catch let error as ModelFileError {
                guard case .invalid(let inner) = error.kind, let e = inner as? CheckpointError else {
                    XCTFail("\(file): \(error)")
                    continue
                }
                XCTAssertEqual(e, Self.expected[String(file.dropLast(5))], file)
                XCTAssertTrue(error.description.hasPrefix(path + ": "), "the message names the file")
                XCTAssertFalse(error.description.contains("\n"), "one line")
            }
        }
    }

    /// Every prefix of a valid file is rejected cleanly (no trap, no huge allocation).
    func testEveryTruncationIsRejected() throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: fixture("valid/all-dtypes.ckpt"))))
        for n in 0..<bytes.count {
            XCTAssertThrowsError(try readCheckpoint(Array(bytes[0..<n])), "prefix of \(n) bytes")
        }
    }

    /// Random corruption (deterministic seeds) of a valid file never crashes the reader: every
    /// mutant is either rejected with a CheckpointError or read as a valid checkpoint.
    func testRandomCorruptionNeverCrashes() throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: fixture("valid/all-dtypes.ckpt"))))
        var rejected = 0
        for seed in 1...3000 {
            var mutant = bytes
            let noise = pseudoRandomBytes(8, seed: UInt64(seed))
            let flips = 1 + Int(noise[0] % 4)
            for k in 0..<flips {
                let position = (Int(noise[1 + k]) << 8 | Int(noise[5 + k % 3])) % mutant.count
                mutant[position] ^= noise[(k + 4) % 8] | 1
            }
            do { _ = try readCheckpoint(mutant) } catch is CheckpointError { rejected += 1 }
        }
        XCTAssertGreaterThan(rejected, 2900, "the CRCs catch nearly every corruption")
    }

    /// Counts in the index can never make the reader reserve more than the file could hold.
    func testHugeCountsInATinyFileFailFast() throws {
        var index = IndexWriter()
        index.u64(1 << 20)  // tensor_count at the limit, but no entries follow
        let bytes = try craftedCheckpoint(index: index.bytes)
        XCTAssertThrowsError(try readCheckpoint(bytes)) {
            XCTAssertEqual($0 as? CheckpointError, .indexTruncated(offset: 64, what: "1048576 tensor count"))
        }
    }

    /// Padding between the last tensor and the index beyond the alignment is refused, even when
    /// every byte of it is zero and every checksum matches.
    func testDataSectionGapIsRefused() throws {
        var bytes = try checkpointBytes(try Model(tensors: [try Tensor(name: "a", shape: [4], floats: [1, 2, 3, 4])]))
        let footer = bytes.count - CheckpointLayout.footerSize
        let indexOffset = Int(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: footer, as: UInt64.self) })
        XCTAssertEqual(indexOffset, 128)
        bytes.insert(contentsOf: [UInt8](repeating: 0, count: CheckpointLayout.alignment), at: indexOffset)
        let moved = UInt64(indexOffset + CheckpointLayout.alignment)
        withUnsafeBytes(of: moved.littleEndian) { for (i, b) in $0.enumerated() { bytes[footer + CheckpointLayout.alignment + i] = b } }
        XCTAssertThrowsError(try readCheckpoint(bytes)) {
            XCTAssertEqual($0 as? CheckpointError, .dataSectionGap(lastEnd: 80, indexOffset: 192))
        }
    }

    /// A sparse payload whose bitmask sets more bits than it stores values is refused (the
    /// writer does not check it, so the file's checksums are all correct).
    func testSparseMaskMismatchIsRefused() throws {
        let layout = try SparseLayout(dtype: .f32, count: 8, nonZeros: 2)
        var payload = [UInt8](repeating: 0, count: layout.payloadBytes)
        payload[0] = 0b0000_0111  // three values marked, two stored
        let t = try Tensor(name: "s", dtype: .f32, shape: [8], encoding: .sparse(nonZeros: 2), data: TensorData(bytes: payload))
        XCTAssertThrowsError(try readCheckpoint(try checkpointBytes(try Model(tensors: [t])))) {
            XCTAssertEqual($0 as? CheckpointError, .sparseMaskMismatch(tensor: "s", offset: 64))
        }
    }

    /// A checkpoint with no tensors whose index is `index`, with a correct footer and CRC.
    func craftedCheckpoint(index: [UInt8]) throws -> [UInt8] {
        var bytes = try checkpointBytes(Model())
        bytes.removeLast(bytes.count - 64)
        bytes += index
        var footer = IndexWriter()
        footer.u64(64)
        footer.u64(UInt64(index.count))
        footer.u32(CRC32.checksum(index))
        footer.u32(0)
        return bytes + footer.bytes + CheckpointLayout.endMagic
    }
}
