import AICompressCore
#if canImport(Glibc)
import Glibc
#endif

/// Which tensors a pass touches: a filter over (name, tensor) shared by every pass.
///
/// Defaults: floating-point, non-empty, not yet quantized tensors of rank 2 or more. One-dimensional
/// tensors (biases, norm weights) and scalars are skipped; embeddings (a name containing
/// "embed", or the data input of a Gather node) only with `includeEmbeddings`. `include` and
/// `exclude` are shell globs (`*` crosses dots: `*.weight`, `classifier.*`); a tensor must
/// match one include (when any is given) and no exclude.
public struct TensorSelection: Sendable, Equatable {
    public var include: [String]
    public var exclude: [String]
    public var includeOneDimensional: Bool
    public var includeEmbeddings: Bool

    public init(include: [String] = [], exclude: [String] = [], includeOneDimensional: Bool = false,
                includeEmbeddings: Bool = false) {
        self.include = include
        self.exclude = exclude
        self.includeOneDimensional = includeOneDimensional
        self.includeEmbeddings = includeEmbeddings
    }

    /// Shell-glob match (fnmatch without special treatment of `/` or `.`).
    public static func glob(_ pattern: String, _ name: String) -> Bool {
        fnmatch(pattern, name, 0) == 0
    }

    /// Names of tensors that are embedding tables: Gather's data input in the graph.
    public static func embeddingNames(in graph: Graph?) -> Set<String> {
        guard let graph else { return [] }
        return Set(graph.nodes.filter { $0.opType == "Gather" && $0.domain.isEmpty }.compactMap(\.inputs.first))
    }

    /// Whether the pass should touch `tensor`.
    public func selects(_ tensor: Tensor, embeddings: Set<String> = []) -> Bool {
        // Dense or sparse (pruned) float tensors; already-quantized ones are left alone.
        switch tensor.encoding {
        case .quantized, .ggml: return false
        case .dense, .sparse: break
        }
        guard tensor.dtype.isFloatingPoint, tensor.elementCount > 0 else { return false }
        if !include.isEmpty && !include.contains(where: { Self.glob($0, tensor.name) }) { return false }
        if exclude.contains(where: { Self.glob($0, tensor.name) }) { return false }
        let explicitlyIncluded = !include.isEmpty
        if tensor.shape.rank < 2 && !(includeOneDimensional || explicitlyIncluded) { return false }
        let isEmbedding = embeddings.contains(tensor.name) || tensor.name.lowercased().contains("embed")
        if isEmbedding && !includeEmbeddings { return false }
        return true
    }

    /// `include=… exclude=…` words for provenance (empty parts omitted).
    public var parameters: [(String, String)] { parameterValues.provenanceWords(in: Parameter.all) }
}
