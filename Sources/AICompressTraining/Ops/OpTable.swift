import AICompressCore

/// The executor's op table: one registration line per op family, each family declaring its
/// records next to its kernels. `Network`, the gradient check and channel pruning's op sets
/// read it; nothing else lists op names.
public enum OpTable {
    static let definitions: [OpDefinition] =
        Elementwise.definitions
        + Arithmetic.definitions
        + Linear.definitions
        + Spatial.definitions
        + Normalization.definitions
        + Structural.definitions
        + Conversion.definitions
        + MLOps.definitions
        + Activations.definitions
        + Logical.definitions
        + Reduce.definitions
        + Variadic.definitions
        + ShapeOps.definitions
        + Indexing.definitions
        + GroupNorm.definitions
        + Einsum.definitions
        + ConvTranspose.definitions
        + Resize.definitions
        + Microsoft.definitions
        + RecognizedOps.definitions

    /// Records by key; the first record of a key wins (a test asserts keys are unique).
    static let byKey: [String: OpDefinition] = Dictionary(definitions.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })

    /// Every record, in registration order.
    public static var all: [OpDefinition] { definitions }

    /// The record of `key` (`Gemm`, `ai.onnx.ml.Scaler`), if the table has one.
    public static func definition(_ key: String) -> OpDefinition? { byKey[key] }

    /// The record the executor runs for `node`, if it runs the node's op.
    static func executable(_ node: Node) -> OpDefinition? {
        guard let d = byKey[OpDefinition.key(domain: node.domain, name: node.opType)], d.isExecutable else { return nil }
        return d
    }

    /// Keys of the ops the executor runs.
    public static let executableKeys: Set<String> = Set(definitions.filter(\.isExecutable).map(\.key))

    /// Keys of the ops gradients flow through.
    public static let differentiableKeys: Set<String> = Set(definitions.filter { $0.gradient != nil }.map(\.key))

    /// Names of the default-domain ops that have all of `traits`, whether or not the executor runs them.
    public static func names(with traits: OpTraits) -> Set<String> {
        Set(definitions.filter { $0.domain.isEmpty && $0.traits.isSuperset(of: traits) }.map(\.name))
    }
}
