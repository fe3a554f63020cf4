/// Where a model goes, one tensor at a time: a file writer (streaming or not) or a model in
/// memory. The producer calls `append` for each tensor in output order, then `finish` once.
///
/// A sink that `streams` writes each tensor as it arrives, so the producer can drop it; one that
/// does not holds the tensors until `finish` (its format needs every size before the first byte).
/// Sinks are used from one thread at a time.
public protocol ModelSink: AnyObject {
    /// Whether tensors are written as they arrive (memory stays near one tensor).
    var streams: Bool { get }
    /// Takes the next tensor. `input`, when given, is the tensor it was made from: its mapped
    /// pages may be released once `tensor` has been written.
    func append(_ tensor: Tensor, releasing input: TensorData?) throws
    /// Writes what remains (index, metadata, graph). No `append` may follow.
    func finish(metadata: [String: String], graph: Graph?) throws
    /// The bytes `tensor` takes in what this sink writes (its format may store a tensor
    /// differently from its in-memory encoding: dense zeros, scales in another type), so that
    /// reports give the sizes written.
    func storedBytes(of tensor: Tensor) -> Int
}

extension ModelSink {
    /// A sink that keeps tensors as they are stores their in-memory encoding.
    public func storedBytes(of tensor: Tensor) -> Int { tensor.storedBytes }
}

/// A sink that builds a `Model` in memory.
public final class ModelBuilder: ModelSink {
    /// The model built so far (complete after `finish`).
    public private(set) var model = Model()

    public init() {}

    public var streams: Bool { false }

    public func append(_ tensor: Tensor, releasing input: TensorData?) throws {
        try model.append(tensor)
    }

    public func finish(metadata: [String: String], graph: Graph?) throws {
        model.metadata = metadata
        model.graph = graph
    }
}
