import AICompressCore

/// The tensors a calibrated method (GPTQ) encodes in place of round-to-nearest, handed to
/// `GGUFQuantize`'s transform one at a time as the writer reaches them, so a method that
/// compresses block by block can hand over each block's tensors as the block completes instead
/// of holding the whole model's until the first is written. The transform asks for every tensor
/// once, in model order (a tensor that gets no ggml type may be replaced by one of its own dtype
/// and shape: a norm AWQ folds its scales into).
public protocol CalibratedTensors: Sendable {
    /// The encoded tensor for `name`, or nil to quantize it round-to-nearest.
    /// - Throws: the method's own errors (the transform passes them on; the output is not written).
    func tensor(named name: String) throws -> Tensor?
    /// Tensors to write after all others (GPTQ's output head, calibrated past the last block:
    /// asked for first, it would make the method hold every block's tensors until written).
    var writtenLast: Set<String> { get }
}

extension CalibratedTensors {
    /// Most methods write in model order.
    public var writtenLast: Set<String> { [] }
}

/// Tensors made before the pass runs, by name.
extension Dictionary: CalibratedTensors where Key == String, Value == Tensor {
    /// The tensor under `name`.
    public func tensor(named name: String) -> Tensor? { self[name] }
}
