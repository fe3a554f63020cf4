@testable import AICompressFormats
import XCTest

/// Checksums of a mapped file that keeps its descriptor are read with `pread`, not summed in
/// the mapping: they must equal the in-memory CRC-32 for ranges that span chunks and read
/// blocks, start and end unaligned, and are empty.
final class MappedCRC32Tests: XCTestCase {
    func testReadChecksumsEqualTheMappedOnes() throws {
        var state: UInt64 = 0x9E37_79B9
        let count = CRC32.parallelChunk + 3 * CRC32.readBlock + 123
        let bytes = (0..<count).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        let path = NSTemporaryDirectory() + "mapped-crc-\(getpid()).bin"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let input = try InputFile(path: path)
        XCTAssertNotNil(input.buffer.fileDescriptor, "the mapping keeps its descriptor, so the pread path is taken")
        let spans = [0..<count, 1..<(count - 1), 7..<(CRC32.readBlock + 9), 100..<100, (count - 5)..<count]
        let ranges = spans.map { UnsafeRawBufferPointer(rebasing: input.buffer.bytes[$0]) }
        let read = CRC32.checksums(ranges, releasing: input.buffer)
        for (span, crc) in zip(spans, read) {
            let expected = bytes[span].withUnsafeBytes { CRC32.checksum($0) }
            XCTAssertEqual(crc, expected, "range \(span)")
        }
        XCTAssertNil(CRC32.readChecksum(input.buffer.fileDescriptor!, offset: count - 4, count: 8), "a short file is not summed")
    }
}
