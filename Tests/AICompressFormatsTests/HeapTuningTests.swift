import XCTest
@testable import AICompressFormats

/// The heap setting that returns freed tensor buffers to the system must actually be made:
/// without it every pass keeps its results' memory resident (issue 19).
final class HeapTuningTests: XCTestCase {
    func testGlibcTakesTheMmapThreshold() {
        #if os(Linux) && canImport(Glibc)
        XCTAssertTrue(HeapTuning.returnLargeBuffersToTheSystem(), "mallopt(M_MMAP_THRESHOLD) was not called or refused")
        #endif
    }
}
