import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Data-parallel loops over the cores. Callers keep each iteration's writes disjoint; results
/// are collected by index, so they never depend on scheduling.
public enum Parallel {
    /// How many pieces the work is split into: the number of cores online, or the environment's
    /// `AICOMPRESS_THREADS` (a whole number from 1 to 1024) where set. Outputs do not depend on
    /// it (each piece computes its elements as the whole would); only the speed does.
    public static let defaultWorkers: Int = {
        if let text = getenv("AICOMPRESS_THREADS").map({ String(cString: $0) }), let count = Int(text), (1...1024).contains(count) {
            return count
        }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }()

    /// Runs `body(i)` for every `i` in `0..<count`, spread over the cores.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        guard count > 1 else {
            if count == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            nonisolated(unsafe) let run = escaping
            DispatchQueue.concurrentPerform(iterations: count) { run($0) }
        }
    }

    /// `(0..<count).map(transform)`, computed in parallel, in index order.
    public static func map<T>(_ count: Int, _ transform: (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer {
            results.deinitialize()
            results.deallocate()
        }
        nonisolated(unsafe) let slots = results
        forEach(count) { slots[$0] = transform($0) }
        return results.map { $0! }
    }
}
