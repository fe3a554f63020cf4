import AICompressCore

/// The memory a pass run may hold itself (`--max-memory`): how many tensors `PassDriver`
/// transforms at once. Mapped input pages are not counted (they are released as tensors are
/// written, and the kernel can reclaim them at any time); what is counted is an upper estimate
/// of each tensor's working set while it is transformed — its stored bytes (input pages in use),
/// its values decoded to f32 and its result (at most 4 bytes per element each) — plus the two
/// finished tensors that may wait for the writer and the output buffers.
public struct MemoryBudget: Sendable, Equatable {
    /// The bound in bytes.
    public var bytes: Int
    /// Buffers the writers keep whatever the model (an output buffer and a scratch-file buffer).
    public static let fixedBytes = 2 << 20

    /// A bound of `bytes`.
    public init(bytes: Int) { self.bytes = bytes }

    /// The estimated bytes held while `t` is transformed.
    public static func working(_ t: Tensor) -> Int { t.storedBytes + 8 * t.elementCount }

    /// The estimated bytes of `t`'s result waiting for the writer.
    public static func waiting(_ t: Tensor) -> Int { t.storedBytes + 4 * t.elementCount }

    /// Splits `tensors` (in order) into batches of at most `maxBatch` whose working sets, with
    /// two results waiting for the writer, fit the bound.
    /// - Throws: `MemoryBudgetError.tensorTooLarge` naming the first tensor that cannot fit alone.
    public func batches(_ tensors: [Tensor], maxBatch: Int) throws(MemoryBudgetError) -> [Range<Int>] {
        let reserve = Self.fixedBytes + 2 * (tensors.map(Self.waiting).max() ?? 0)
        var out: [Range<Int>] = []
        var start = 0
        var used = 0
        for (i, t) in tensors.enumerated() {
            let w = Self.working(t)
            guard reserve + w <= bytes else {
                throw .tensorTooLarge(tensor: t.name, needs: reserve + w, limit: bytes)
            }
            if i > start && (i - start >= maxBatch || reserve + used + w > bytes) {
                out.append(start..<i)
                start = i
                used = 0
            }
            used += w
        }
        if start < tensors.count { out.append(start..<tensors.count) }
        return out
    }
}

/// A memory bound that a model cannot be processed under.
public enum MemoryBudgetError: Error, Equatable {
    /// One tensor's working set (with the writer's reserve) is over the bound.
    case tensorTooLarge(tensor: String, needs: Int, limit: Int)
}

extension MemoryBudgetError: DataFault {
    public var faultKind: FaultKind { .usage }

    public var description: String {
        switch self {
        case .tensorTooLarge(let tensor, let needs, let limit):
            return "tensor '\(tensor)' needs about \(needs) bytes of working memory, over the memory bound of \(limit) bytes"
        }
    }
}
