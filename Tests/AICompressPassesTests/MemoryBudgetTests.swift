import AICompressCore
@testable import AICompressPasses
import XCTest

/// `--max-memory`: how many tensors are transformed at once, and the refusal of one that
/// cannot fit.
final class MemoryBudgetTests: XCTestCase {
    func tensors(_ counts: [Int]) throws -> [Tensor] {
        try counts.enumerated().map { i, n in try Tensor(name: "t\(i)", shape: [n], floats: [Float](repeating: 1, count: n)) }
    }

    func testBatchesFitTheBoundAndKeepOrder() throws {
        let ts = try tensors([1000, 1000, 1000, 4000, 1000])
        // working = 12 bytes per f32 element; reserve = 2 MiB + 2 x (8 x 4000)
        let reserve = MemoryBudget.fixedBytes + 2 * 8 * 4000
        let budget = MemoryBudget(bytes: reserve + 48_000)  // the largest tensor exactly
        XCTAssertEqual(try budget.batches(ts, maxBatch: 8), [0..<3, 3..<4, 4..<5])
        XCTAssertEqual(try budget.batches(ts, maxBatch: 2), [0..<2, 2..<3, 3..<4, 4..<5])
        XCTAssertEqual(try MemoryBudget(bytes: 1 << 30).batches(ts, maxBatch: 2), [0..<2, 2..<4, 4..<5])
    }

    func testTensorThatCannotFitIsNamed() throws {
        let ts = try tensors([10, 5000])
        let bytes = MemoryBudget.fixedBytes + 2 * 8 * 5000 + 12 * 5000 - 1
        XCTAssertThrowsError(try MemoryBudget(bytes: bytes).batches(ts, maxBatch: 2)) {
            XCTAssertEqual($0 as? MemoryBudgetError, .tensorTooLarge(tensor: "t1", needs: bytes + 1, limit: bytes))
            XCTAssertEqual(($0 as? MemoryBudgetError)?.faultKind, .usage)
        }
    }

    /// A bounded run gives the same model as an unbounded one.
    func testBoundedRunEqualsUnbounded() throws {
        var model = Model()
        for (i, t) in try tensors([300, 700, 500]).enumerated() {
            var values = t.floatValues()
            for k in values.indices { values[k] = Float((k * 37 + i * 11) % 101) - 50 }
            try model.append(try Tensor(name: t.name, shape: [10, t.elementCount / 10], floats: values))
        }
        let pass = Prune(method: .magnitude(keep: 0.3, scope: .global))
        let free = ModelBuilder(), bounded = ModelBuilder()
        _ = try PassDriver(pass: pass).run(model, into: free)
        _ = try PassDriver(pass: pass, memory: MemoryBudget(bytes: MemoryBudget.fixedBytes + 2 * 8 * 700 + 12 * 700)).run(model, into: bounded)
        XCTAssertEqual(free.model.tensors.map(\.data.byteArray), bounded.model.tensors.map(\.data.byteArray))
    }
}
