/// A neural-network model in memory: named tensors in order, an optional graph, and metadata.
///
/// Readers produce a `Model`, passes turn one `Model` into another, writers turn it into bytes.
/// Tensor names are unique; the order of `tensors` is the order they are written in.
public struct Model: Sendable {
    /// The tensors, in file order.
    public private(set) var tensors: [Tensor]
    /// String metadata: provenance and user annotations (written sorted by key).
    public var metadata: [String: String]
    /// How the tensors are used, when known.
    public var graph: Graph?
    private var indexByName: [String: Int]

    /// An empty model.
    public init() {
        tensors = []
        metadata = [:]
        graph = nil
        indexByName = [:]
    }

    /// Creates a model.
    /// - Throws: `ModelError.duplicateTensorName` when two tensors share a name.
    public init(tensors: [Tensor], metadata: [String: String] = [:], graph: Graph? = nil) throws(ModelError) {
        self.tensors = []
        self.metadata = metadata
        self.graph = graph
        self.indexByName = [:]
        self.tensors.reserveCapacity(tensors.count)
        for t in tensors { try append(t) }
    }

    /// Adds a tensor at the end.
    /// - Throws: `ModelError.emptyTensorName`, `.duplicateTensorName`.
    public mutating func append(_ tensor: Tensor) throws(ModelError) {
        guard !tensor.name.isEmpty else { throw .emptyTensorName }
        guard indexByName[tensor.name] == nil else { throw .duplicateTensorName(tensor.name) }
        indexByName[tensor.name] = tensors.count
        tensors.append(tensor)
    }

    /// Replaces the tensor of the same name, keeping its position.
    /// - Throws: `ModelError.noSuchTensor`.
    public mutating func replace(_ tensor: Tensor) throws(ModelError) {
        guard let i = indexByName[tensor.name] else { throw .noSuchTensor(tensor.name) }
        tensors[i] = tensor
    }

    /// The tensor called `name`, if any.
    public func tensor(named name: String) -> Tensor? {
        indexByName[name].map { tensors[$0] }
    }

    /// Total number of elements over all tensors.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }

    /// Total stored bytes over all tensors.
    public var storedBytes: Int { tensors.reduce(0) { $0 + $1.storedBytes } }

    /// Appends a provenance step (`aicompress.step.NNN`, spec §4.2) after the existing ones.
    public mutating func appendStep(_ description: String) {
        Provenance.appendStep(&metadata, description)
    }

    /// The metadata key of provenance step `n`.
    public static func stepKey(_ n: Int) -> String {
        let digits = String(n)
        return "aicompress.step." + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }
}
