/// The ai.onnx operators the version converter knows, each with the opsets at which its schema
/// changed (its `since_version`s in onnx/defs, up to opset 22), so that converting a node from
/// opset `a` to `b` visits every change in (a, b]. A change the converter does not rewrite
/// (`ONNXVersionAdapters.adapt`) only widened the types or added an attribute or input whose
/// default keeps the old behaviour. An operator missing here is refused whenever the opset
/// changes: its semantics may differ and nothing checks them.
enum ONNXOpsetHistory {
    /// Operator → the opsets where its schema changed (from onnx 1.23's
    /// `onnx.defs.get_all_schemas_with_history()`, truncated at 22).
    static let versions: [String: [Int64]] = [
        "Abs": [1, 6, 13], "Add": [1, 6, 7, 13, 14], "And": [1, 7], "ArgMax": [1, 11, 12, 13],
        "ArgMin": [1, 11, 12, 13], "AveragePool": [1, 7, 10, 11, 19, 22], "BatchNormalization": [1, 6, 7, 9, 14, 15],
        "Cast": [1, 6, 9, 13, 19, 21], "Ceil": [1, 6, 13], "Clip": [1, 6, 11, 12, 13], "Concat": [1, 4, 11, 13],
        "Constant": [1, 9, 11, 12, 13, 19, 21], "ConstantOfShape": [9, 20, 21], "Conv": [1, 11, 22],
        "ConvTranspose": [1, 11, 22], "Cos": [7, 22], "CumSum": [11, 14], "DepthToSpace": [1, 11, 13],
        "DequantizeLinear": [10, 13, 19, 21], "Div": [1, 6, 7, 13, 14], "Dropout": [1, 6, 7, 10, 12, 13, 22],
        "Einsum": [12], "Elu": [1, 6, 22], "Equal": [1, 7, 11, 13, 19], "Erf": [9, 13], "Exp": [1, 6, 13],
        "Expand": [8, 13], "Flatten": [1, 9, 11, 13, 21], "Floor": [1, 6, 13], "Gather": [1, 11, 13],
        "GatherElements": [11, 13], "GatherND": [11, 12, 13], "Gelu": [20], "Gemm": [1, 6, 7, 9, 11, 13],
        "GlobalAveragePool": [1, 22], "GlobalMaxPool": [1, 22], "Greater": [1, 7, 9, 13], "Hardmax": [1, 11, 13],
        "HardSigmoid": [1, 6, 22], "Identity": [1, 13, 14, 16, 19, 21], "InstanceNormalization": [1, 6, 22],
        "LayerNormalization": [17], "LeakyRelu": [1, 6, 16], "Less": [1, 7, 9, 13], "Log": [1, 6, 13],
        "LogSoftmax": [1, 11, 13], "LRN": [1, 13], "MatMul": [1, 9, 13], "Max": [1, 6, 8, 12, 13],
        "MaxPool": [1, 8, 10, 11, 12, 22], "Mean": [1, 6, 8, 13], "Min": [1, 6, 8, 12, 13], "Mul": [1, 6, 7, 13, 14],
        "Neg": [1, 6, 13], "NonZero": [9, 13], "Not": [1], "OneHot": [9, 11], "Or": [1, 7],
        "Pad": [1, 2, 11, 13, 18, 19, 21], "Pow": [1, 7, 12, 13, 15], "PRelu": [1, 6, 7, 9, 16],
        "QuantizeLinear": [10, 13, 19, 21], "Range": [11], "Reciprocal": [1, 6, 13],
        "ReduceL1": [1, 11, 13, 18], "ReduceL2": [1, 11, 13, 18], "ReduceLogSum": [1, 11, 13, 18],
        "ReduceLogSumExp": [1, 11, 13, 18], "ReduceMax": [1, 11, 12, 13, 18, 20], "ReduceMean": [1, 11, 13, 18],
        "ReduceMin": [1, 11, 12, 13, 18, 20], "ReduceProd": [1, 11, 13, 18], "ReduceSum": [1, 11, 13],
        "ReduceSumSquare": [1, 11, 13, 18], "Relu": [1, 6, 13, 14], "Reshape": [1, 5, 13, 14, 19, 21],
        "Resize": [10, 11, 13, 18, 19], "Selu": [1, 6, 22], "Shape": [1, 13, 15, 19, 21], "Sigmoid": [1, 6, 13],
        "Sign": [9, 13], "Sin": [7, 22], "Size": [1, 13, 19, 21], "Slice": [1, 10, 11, 13], "Softmax": [1, 11, 13],
        "Softplus": [1, 22], "Softsign": [1, 22], "SpaceToDepth": [1, 13], "Split": [1, 2, 11, 13, 18],
        "Sqrt": [1, 6, 13], "Squeeze": [1, 11, 13, 21], "Sub": [1, 6, 7, 13, 14], "Sum": [1, 6, 8, 13],
        "Tanh": [1, 6, 13], "Tile": [1, 6, 13], "TopK": [1, 10, 11], "Transpose": [1, 13, 21], "Trilu": [14],
        "Unsqueeze": [1, 11, 13, 21], "Where": [9, 16], "Xor": [1, 7],
    ]

    /// The schema changes of `op` in (from, to], oldest first; nil when the converter does not
    /// know the operator.
    static func changes(of op: String, from: Int64, to: Int64) -> [Int64]? {
        versions[op].map { $0.filter { from < $0 && $0 <= to } }
    }
}
