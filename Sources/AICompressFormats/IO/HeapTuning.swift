import CSystem

/// How the process's heap treats tensor-sized buffers. glibc serves a large allocation with its
/// own mapping, but after each such free it raises that threshold (up to 32 MiB), so the next
/// tensors come from its arenas and stay resident after they are freed: a pass over a model
/// would keep its results' memory although each was written and dropped. A fixed threshold
/// keeps every buffer of 1 MiB or more a mapping of its own, unmapped when freed.
public enum HeapTuning {
    /// Buffers of at least this many bytes are mapped on their own.
    public static let largeBuffer: Int32 = 1 << 20

    private static let applied: Bool = aic_set_mmap_threshold(largeBuffer) == 1

    /// Applies the fixed threshold (once; later calls do nothing). True where the C library
    /// took it.
    @discardableResult
    public static func returnLargeBuffersToTheSystem() -> Bool { applied }
}
