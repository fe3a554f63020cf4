import Foundation

/// `LayerwiseDecoderCalibration` run on demand, for an output written tensor by tensor in model
/// order (GPTQ into GGUF, Wanda and SparseGPT on language models): asked for a tensor of block
/// i, it runs blocks up to i (each calibrated on the compressed output of the one before) and
/// hands back what block i's compression made for that tensor. A LLaMA file lists block i's
/// tensors before block i+1's, so each block's results go to the writer as the block completes
/// and the stream holds one block's results at a time, not the whole model's; an output in
/// another order only makes it hold the blocks run ahead until they are asked for.
///
/// ```swift
/// let stream = LayerwiseDecoderStream<Tensor>(calibration, blocks: ["blk.3.attn_q.weight": 3, …]) { block in
///     (weights: replacement(block), items: encodedTensors(block))   // by tensor name
/// }
/// let q = try stream.take("blk.3.attn_q.weight")                   // runs blocks 0…3 first
/// ```
///
/// Safe to call from several threads (one block runs at a time, under a lock); an error from a
/// block is thrown again by every later call, so no block runs after a failed one.
public final class LayerwiseDecoderStream<Item>: @unchecked Sendable {
    /// One block's compression: the replacement weights the next block is calibrated on (as
    /// `LayerwiseDecoderCalibration.run`'s closure returns them) and the items to hand out, by
    /// tensor name.
    public typealias Compress = (DecoderBlockCalibration) throws -> (weights: [ActivationSite.Kind: [Float]], items: [String: Item])
    /// The output head's compression, given its statistics past the last block (the final norm
    /// of the compressed blocks' output): the items to hand out, by tensor name.
    public typealias CompressHead = (DecoderHeadStatistics) throws -> [String: Item]

    private let lock = NSLock()
    private let calibration: LayerwiseDecoderCalibration
    private let blocks: [String: Int]
    private let compress: Compress
    private let compressHead: CompressHead?
    private let progress: (Int, Int) -> Void
    // nil before the first request (nothing embedded yet) and after the last block (the
    // hidden states are freed).
    private var sweep: LayerwiseDecoderSweep?
    private var done = 0
    private var finished = false
    private var ready: [String: Item] = [:]
    private var failure: (any Error)?

    /// A stream over `calibration` whose blocks make items for the tensors `blocks` names, each
    /// with the block that makes it; `progress(done, total)` is called as each block starts (done
    /// blocks before it) and once with (total, total) after the last. With `head`, a tensor
    /// `blocks` gives the block count (one past the last) is made by `head` after the last block,
    /// before the sweep's hidden states are freed.
    public init(_ calibration: LayerwiseDecoderCalibration, blocks: [String: Int],
                progress: @escaping (Int, Int) -> Void = { _, _ in }, head: CompressHead? = nil,
                compress: @escaping Compress) {
        self.calibration = calibration
        self.blocks = blocks
        self.compress = compress
        self.compressHead = head
        self.progress = progress
    }

    /// Blocks run so far.
    public var blocksDone: Int { lock.withLock { done } }

    /// Items made and not yet taken.
    public var waiting: Int { lock.withLock { ready.count } }

    /// The item made for tensor `name`, running the blocks up to the one that makes it first if
    /// they have not run; nil for a name the stream was not given, when that block made none
    /// (or there are no calibration sequences). Each item is handed out once, then forgotten.
    /// - Throws: what a block's compression throws, and `LayerwiseDecoderCalibration.run`'s
    ///   errors (`LLMError.tokenOutOfRange`, `.unsupportedConfig`, `.tensorShape`).
    public func take(_ name: String) throws -> Item? {
        guard let block = blocks[name] else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        do { try run(through: block) } catch {
            failure = error
            sweep = nil
            throw error
        }
        return ready.removeValue(forKey: name)
    }

    /// Runs blocks until `block` is done or none is left (lock held).
    private func run(through block: Int) throws {
        guard !finished, done <= block else { return }
        // The only reference to the sweep's hidden states while it steps (no copy on write).
        var s = try sweep ?? LayerwiseDecoderSweep(calibration)
        sweep = nil
        while !s.isFinished && s.done <= block {
            progress(s.done, s.blocks)
            var items: [String: Item] = [:]
            try s.next { b in
                let r = try compress(b)
                items = r.items
                return r.weights
            }
            ready.merge(items) { _, made in made }
            done = s.done
        }
        if s.isFinished {
            if let compressHead, case let statistics = s.headStatistics(), statistics.rows > 0 {
                ready.merge(try compressHead(statistics)) { _, made in made }
            }
            finished = true
            if s.blocks > 0 { progress(s.blocks, s.blocks) }
        } else {
            sweep = s
        }
    }
}
