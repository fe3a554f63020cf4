/// Limits of the ONNX reader.
public enum ONNXLimits {
    /// Largest dense tensor a sparse initializer may expand to.
    public static let maxDensifiedBytes = 4 << 30
    /// Nesting of subgraphs (If/Loop bodies) and of value types.
    public static let maxDepth = 16
    /// protobuf's limit on one message: files without external data must stay below it.
    public static let maxMessageBytes = Int(Int32.max)
}
