@testable import AICompressFormats
import XCTest

/// The folded (PCLMULQDQ) CRC-32 against a bit-by-bit reference, for every length around the
/// 16- and 64-byte boundaries, unaligned starts, continued CRCs and a large buffer; and
/// `checksums` of many small ranges (summed on the calling thread) against the plain sums.
final class FoldedCRC32Tests: XCTestCase {
    func reference(_ bytes: ArraySlice<UInt8>, initial: UInt32 = 0) -> UInt32 {
        var c = ~initial
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    func testEqualsTheBitwiseReference() throws {
        // Seconds in a debug build, most of them in the bit-by-bit reference over 9 MiB.
        try XCTSkipUnless(ProcessInfo.processInfo.environment["AICOMPRESS_SLOW"] == "1",
                          "slow test: set AICOMPRESS_SLOW=1 (scripts/test.sh does) to run it")
        var state: UInt64 = 0x1234_5678
        let data = (0..<4096).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926) // the check value
        for start in [0, 1, 3, 8, 15] {
            for length in Array(0...300) + [511, 512, 513, 1000, 1024, 4000] where start + length <= data.count {
                let slice = data[start..<(start + length)]
                let ours = Array(slice).withUnsafeBytes { CRC32.checksum($0) }
                XCTAssertEqual(ours, reference(slice), "start \(start) length \(length)")
            }
        }
        // continuing from a CRC equals the CRC of the concatenation
        let a = Array(data[0..<700]), b = Array(data[700..<2000])
        let continued = b.withUnsafeBytes { CRC32.checksum($0, initial: CRC32.checksum(a)) }
        XCTAssertEqual(continued, reference(data[0..<2000]))
        // a large buffer, split over the cores and combined
        let big = [UInt8](repeating: 0, count: 9 << 20).enumerated().map { UInt8(truncatingIfNeeded: $0.offset &* 2654435761 >> 13) }
        let whole = big.withUnsafeBytes { CRC32.checksums([$0])[0] }
        XCTAssertEqual(whole, big.withUnsafeBytes { CRC32.checksum($0) })
        XCTAssertEqual(whole, reference(big[...]))
    }

    /// Up to `serialLimit` bytes in all the ranges are summed on the calling thread (no worker
    /// threads for a small file): the same CRCs, empty ranges included, as the parallel path.
    func testSmallRangesOnTheCallingThreadEqualTheSequentialSums() {
        let bytes = (0..<(CRC32.serialLimit + 1)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 11) }
        bytes.withUnsafeBytes { all in
            let spans = [0..<10, 10..<10, 3..<4097, 5000..<CRC32.serialLimit]
            let small = CRC32.checksums(spans.map { UnsafeRawBufferPointer(rebasing: all[$0]) })
            XCTAssertEqual(small, spans.map { CRC32.checksum(UnsafeRawBufferPointer(rebasing: all[$0])) })
            // a range more, over the limit in all: the parallel path, the same CRCs
            let large = CRC32.checksums((spans + [0..<1000]).map { UnsafeRawBufferPointer(rebasing: all[$0]) })
            XCTAssertEqual(Array(large.prefix(spans.count)), small)
        }
        XCTAssertEqual(CRC32.checksums([]), [])
    }
}
