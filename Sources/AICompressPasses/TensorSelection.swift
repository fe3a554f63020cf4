import AICompressCore
#if canImport(Glibc)
import Glibc
#endif

/// Which tensors a pass touches: a filter over (name, tensor) shared by every pass.
///
/// Defaults: floating-point, non-empty, not yet quantized tensors with two or more dimensions
/// longer than 1. One-dimensional tensors (biases, norm weights; also `[1, N]` biases as
/// skl2onnx writes them, which have one such dimension) and scalars are skipped; embeddings (a name containing
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
        case .quantized, .ggml, .sparseQuantized: return false
        case .dense, .sparse: break
        }
        guard tensor.dtype.isFloatingPoint, tensor.elementCount > 0 else { return false }
        if !include.isEmpty && !include.contains(where: { Self.glob($0, tensor.name) }) { return false }
        if exclude.contains(where: { Self.glob($0, tensor.name) }) { return false }
        let explicitlyIncluded = !include.isEmpty
        if !Self.hasTwoDimensions(tensor.shape) && !(includeOneDimensional || explicitlyIncluded) { return false }
        let isEmbedding = embeddings.contains(tensor.name) || tensor.name.lowercased().contains("embed")
        if isEmbedding && !includeEmbeddings { return false }
        return true
    }

    /// Whether `shape` is a matrix or more: two or more dimensions longer than 1 (`[1, N]` and
    /// `[N, 1, 1]` are vectors laid out with unit dimensions).
    public static func hasTwoDimensions(_ shape: Shape) -> Bool {
        shape.dims.filter { $0 != 1 }.count >= 2
    }

    /// Why a selection matched nothing in `model`: what is skipped by default and, when the
    /// model's weights are node attributes (scikit-learn linear models and trees through
    /// skl2onnx: LinearClassifier `coefficients`), that there is no weight tensor to compress.
    public static func nothingSelectedReason(_ model: Model) -> String {
        var reason = "no floating-point tensor with two or more dimensions longer than 1 matches the selection "
            + "(1-D tensors, [1, N] biases and embeddings are skipped unless included)"
        guard !model.tensors.contains(where: { $0.dtype.isFloatingPoint && hasTwoDimensions($0.shape) }) else { return reason }
        var holders: [(String, String, Int)] = []
        for n in model.graph?.nodes ?? [] {
            for a in n.attributes {
                if case .floats(let values) = a.value, values.count > 1 { holders.append((n.name.isEmpty ? n.opType : n.name, a.name, values.count)) }
            }
        }
        if let (node, attribute, count) = holders.max(by: { $0.2 < $1.2 }) {
            reason += "; the model's weights are node attributes, not tensors: node '\(node)' holds \(count) values in its "
                + "'\(attribute)' attribute (scikit-learn linear models and trees export this way); only initializers are compressed"
        }
        return reason
    }

    /// `include=… exclude=…` words for provenance (empty parts omitted).
    public var parameters: [(String, String)] { parameterValues.provenanceWords(in: Parameter.all) }
}
