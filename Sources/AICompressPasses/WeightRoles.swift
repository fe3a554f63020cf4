import AICompressCore

/// How an operator uses a weight tensor, which fixes its output-channel axis (per-channel
/// scales) and its reduction axis (where N:M groups and quantization blocks run).
public enum WeightRole: Sendable, Equatable {
    /// ONNX MatMul B, `[K, N]`.
    case matMulB
    /// ONNX Gemm B: `[N, K]` when transB = 1, else `[K, N]`.
    case gemmB(transposed: Bool)
    /// ONNX Conv W, `[M, C/group, kH, kW…]`.
    case conv
    /// ONNX ConvTranspose W, `[C, M/group, kH, kW…]`.
    case convTranspose
    /// No graph says otherwise: PyTorch / safetensors layout, `[out, in, …]`.
    case outputFirst

    /// The axis of output channels.
    public var channelAxis: Int {
        switch self {
        case .matMulB, .convTranspose: return 1
        case .gemmB(let t): return t ? 0 : 1
        case .conv, .outputFirst: return 0
        }
    }

    /// The axis summed over when the weight is applied (the input features).
    public var reductionAxis: Int {
        switch self {
        case .matMulB, .convTranspose: return 0
        case .gemmB(let t): return t ? 1 : 0
        case .conv, .outputFirst: return 1
        }
    }

    /// The role of every tensor used as a weight by a node of `graph`; the first use wins.
    public static func roles(in graph: Graph?) -> [String: WeightRole] {
        guard let graph else { return [:] }
        var roles: [String: WeightRole] = [:]
        for n in graph.nodes where n.domain.isEmpty || n.domain == "ai.onnx" {
            guard n.inputs.count >= 2 else { continue }
            let w = n.inputs[1]
            let role: WeightRole?
            switch n.opType {
            case "MatMul": role = .matMulB
            case "Gemm":
                if case .int(let t)? = n.attribute("transB") { role = .gemmB(transposed: t != 0) } else { role = .gemmB(transposed: false) }
            case "Conv": role = .conv
            case "ConvTranspose": role = .convTranspose
            default: role = nil
            }
            if let role, roles[w] == nil { roles[w] = role }
        }
        return roles
    }
}
