import AICompressCore
@testable import AICompressTraining
import XCTest

/// Every differentiable op of the op table against central finite differences: for a one-node
/// graph whose float inputs are all parameters, d(Σ y·r)/d(input) from `Network.backward` is
/// compared with (L(p + ε) − L(p − ε)) / 2ε, ε = 10⁻², and fails when they differ by more than
/// `tol · max(1, |numeric|)` (tol = 2·10⁻² unless a case states its own).
final class GradientCheckTests: XCTestCase {
    /// Draws the test values; uniform in [0, 1). Not SplitMix64: the checks depend on these exact
    /// values (with others a MaxPool window holds two values within ε, so its finite difference
    /// straddles the switch of the maximum).
    struct RNG {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        /// Uniform in ±[0.2, 1.2]: away from the kinks of Relu, Abs and friends.
        mutating func away() -> Float { (next() + 0.2) * (next() < 0.5 ? -1 : 1) }
    }

    /// One gradient check: op `op` of `domain` on random float inputs `inputs` (each checked),
    /// plus constant tensors `extra` fed as `extraInputs`.
    struct Case {
        var op: String
        var domain = ""
        var inputs: [(String, [Int])]
        var attributes: [Attribute] = []
        var extra: [Tensor] = []
        var extraInputs: [String] = []
        /// Node inputs in this order when given (a constant before the checked inputs: Where).
        var order: [String]? = nil
        var opset: Int64 = 17
        /// Inputs drawn from [0.5, 1.5) instead of ±[0.2, 1.2] (Log, Sqrt, Pow).
        var positive = false
        var tol: Float = 2e-2

        var key: String { OpDefinition.key(domain: domain, name: op) }
    }

    static func int64s(_ name: String, _ values: [Int64]) throws -> Tensor {
        try Tensor(name: name, dtype: .i64, shape: Shape([values.count]), data: TensorData(values: values))
    }

    static func attribute(_ name: String, _ value: AttributeValue) -> Attribute { Attribute(name: name, value: value) }

    static func bools(_ name: String, _ shape: [Int], _ values: [UInt8]) throws -> Tensor {
        try Tensor(name: name, dtype: .bool, shape: Shape(shape), data: TensorData(values: values))
    }

    /// The registered checks. Each differentiable op of `OpTable` needs at least one, and each
    /// case must name a differentiable op: `testEveryDifferentiableOpHasAGradientCheck`.
    static func cases() throws -> [Case] {
        var c = [Case]()
        // unary
        for op in ["Relu", "Sigmoid", "Tanh", "Erf", "Neg", "Exp", "Abs", "Identity", "Softplus", "Elu", "Dropout"] {
            c.append(Case(op: op, inputs: [("x", [2, 3])]))
        }
        c.append(Case(op: "LeakyRelu", inputs: [("x", [2, 3])], attributes: [attribute("alpha", .float(0.1))]))
        c.append(Case(op: "Gelu", inputs: [("x", [2, 3])], opset: 20))
        c.append(Case(op: "Gelu", inputs: [("x", [2, 3])], attributes: [attribute("approximate", .string(Array("tanh".utf8)))], opset: 20))
        c.append(Case(op: "Log", inputs: [("x", [2, 3])], positive: true))
        c.append(Case(op: "Sqrt", inputs: [("x", [2, 3])], positive: true))
        // Clip: bounds as inputs (opset 11 on) and as attributes (before); values are clipped at both
        // bounds, none within 0.02 of one
        c.append(Case(op: "Clip", inputs: [("x", [3, 4])],
                      extra: [try Tensor(name: "lo", shape: [], floats: [-0.72]), try Tensor(name: "hi", shape: [], floats: [0.58])],
                      extraInputs: ["lo", "hi"]))
        c.append(Case(op: "Clip", inputs: [("x", [3, 4])], attributes: [attribute("min", .float(-0.58)), attribute("max", .float(0.59))], opset: 6))
        // binary, with broadcasting both ways
        for op in ["Add", "Sub", "Mul", "Div"] {
            c.append(Case(op: op, inputs: [("a", [2, 3, 4]), ("b", [3, 1])]))
            c.append(Case(op: op, inputs: [("a", [4]), ("b", [2, 4])]))
        }
        c.append(Case(op: "Pow", inputs: [("a", [2, 3]), ("b", [3])], positive: true))
        // Gemm in all transpositions, MatMul with batch broadcasting
        for ta in [0, 1] {
            for tb in [0, 1] {
                c.append(Case(op: "Gemm", inputs: [("A", ta == 1 ? [4, 3] : [3, 4]), ("B", tb == 1 ? [5, 4] : [4, 5]), ("C", [5])],
                              attributes: [attribute("transA", .int(Int64(ta))), attribute("transB", .int(Int64(tb))),
                                           attribute("alpha", .float(0.7)), attribute("beta", .float(1.3))]))
            }
        }
        for (a, b) in [([3, 4], [4, 2]), ([2, 3, 4], [4, 2]), ([2, 3, 4], [2, 4, 2]), ([4], [4, 2]),
                       ([2, 2, 3, 4], [2, 4, 5]),  // batch broadcast
                       ([3, 1, 2, 4], [2, 4, 3]),  // both sides broadcast
                       ([2, 2, 3, 4], [2, 2, 4, 3])] {  // attention's per-head products
            c.append(Case(op: "MatMul", inputs: [("a", a), ("b", b)]))
        }
        // softmax family, both axis semantics
        c.append(Case(op: "Softmax", inputs: [("x", [2, 5])]))
        c.append(Case(op: "LogSoftmax", inputs: [("x", [2, 5])]))
        c.append(Case(op: "Softmax", inputs: [("x", [2, 3, 4])], attributes: [attribute("axis", .int(1))]))
        c.append(Case(op: "Softmax", inputs: [("x", [2, 3, 4])], attributes: [attribute("axis", .int(1))], opset: 11))
        // shape ops
        c.append(Case(op: "Flatten", inputs: [("x", [2, 3, 4])]))
        c.append(Case(op: "Transpose", inputs: [("x", [2, 3, 4])], attributes: [attribute("perm", .ints([2, 0, 1]))]))
        c.append(Case(op: "Reshape", inputs: [("x", [2, 3, 4])], extra: [try int64s("s", [-1, 4])], extraInputs: ["s"]))
        c.append(Case(op: "Squeeze", inputs: [("x", [2, 1, 3])], extra: [try int64s("axes", [1])], extraInputs: ["axes"]))
        c.append(Case(op: "Squeeze", inputs: [("x", [2, 1, 3])], attributes: [attribute("axes", .ints([1]))], opset: 11))
        c.append(Case(op: "Unsqueeze", inputs: [("x", [2, 3])], extra: [try int64s("axes", [0, 2])], extraInputs: ["axes"]))
        c.append(Case(op: "Unsqueeze", inputs: [("x", [2, 3])], attributes: [attribute("axes", .ints([1]))], opset: 11))
        c.append(Case(op: "Concat", inputs: [("a", [2, 3]), ("b", [2, 2])], attributes: [attribute("axis", .int(1))]))
        c.append(Case(op: "Gather", inputs: [("x", [4, 3])], extra: [try int64s("i", [2, 0, 2])], extraInputs: ["i"]))
        // an embedding lookup (ids [2, 3], repeated) and a pooler's first token (axis 1, a scalar index)
        c.append(Case(op: "Gather", inputs: [("table", [5, 3])],
                      extra: [try Tensor(name: "ids", dtype: .i64, shape: Shape([2, 3]), data: TensorData(values: [Int64]([4, 0, 4, 1, 1, 3])))],
                      extraInputs: ["ids"]))
        c.append(Case(op: "Gather", inputs: [("h", [2, 3, 4])], attributes: [attribute("axis", .int(1))],
                      extra: [try Tensor(name: "first", dtype: .i64, shape: Shape([]), data: TensorData(values: [Int64]([0])))],
                      extraInputs: ["first"]))
        c.append(Case(op: "Cast", inputs: [("x", [2, 3])], attributes: [attribute("to", .int(1))]))
        // convolutions and pooling
        c.append(Case(op: "Conv", inputs: [("x", [2, 2, 5, 5]), ("w", [3, 2, 3, 3]), ("b", [3])], attributes: [attribute("pads", .ints([1, 1, 1, 1]))]))
        c.append(Case(op: "Conv", inputs: [("x", [1, 4, 6, 5]), ("w", [4, 2, 2, 3])],
                      attributes: [attribute("strides", .ints([2, 1])), attribute("group", .int(2)), attribute("dilations", .ints([1, 2]))]))
        c.append(Case(op: "Conv", inputs: [("x", [2, 2, 7]), ("w", [3, 2, 3]), ("b", [3])],
                      attributes: [attribute("auto_pad", .string(Array("SAME_UPPER".utf8)))]))
        c.append(Case(op: "MaxPool", inputs: [("x", [2, 2, 4, 4])], attributes: [attribute("kernel_shape", .ints([2, 2])), attribute("strides", .ints([2, 2]))]))
        c.append(Case(op: "AveragePool", inputs: [("x", [1, 2, 5, 5])],
                      attributes: [attribute("kernel_shape", .ints([3, 3])), attribute("pads", .ints([1, 1, 1, 1])), attribute("strides", .ints([2, 2]))]))
        c.append(Case(op: "GlobalAveragePool", inputs: [("x", [2, 3, 3, 3])]))
        // BatchNormalization: scale and bias are parameters, the statistics (aicompress.*) frozen
        c.append(Case(op: "BatchNormalization", inputs: [("x", [2, 3, 2, 2]), ("scale", [3]), ("bias", [3])],
                      extra: [try Tensor(name: "aicompress.mean", shape: [3], floats: [0.1, -0.2, 0.3]),
                              try Tensor(name: "aicompress.var", shape: [3], floats: [0.5, 1.5, 2])],
                      extraInputs: ["aicompress.mean", "aicompress.var"]))
        c += try Self.newerCases()
        return c
    }

    /// The checks of the transformer and CNN ops (issue 17).
    static func newerCases() throws -> [Case] {
        var c = [Case]()
        for op in ["Reciprocal", "Sin", "Cos", "HardSigmoid", "HardSwish", "Selu", "Softsign"] {
            c.append(Case(op: op, inputs: [("x", [2, 3])]))
        }
        c.append(Case(op: "PRelu", inputs: [("x", [2, 3, 2]), ("slope", [3, 1])]))
        c.append(Case(op: "Where", inputs: [("a", [2, 3]), ("b", [3])], extra: [try bools("c", [2, 1], [1, 0])],
                      order: ["c", "a", "b"]))
        let reductions = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                          "ReduceSumSquare", "ReduceLogSumExp"]
        for op in reductions {
            // axes as an attribute (opset 13; ReduceSum's is an input from 13) and as an input (opset 18)
            if op != "ReduceSum" { c.append(Case(op: op, inputs: [("x", [2, 3, 2])], attributes: [attribute("axes", .ints([1]))], opset: 13)) }
            c.append(Case(op: op, inputs: [("x", [2, 3, 2])], attributes: [attribute("keepdims", .int(0))],
                          extra: [try int64s("axes", [0, -1])], extraInputs: ["axes"], opset: 18))
        }
        c.append(Case(op: "ReduceMean", inputs: [("x", [2, 3])], opset: 18))  // no axes: all of them
        for op in ["Sum", "Mean", "Max", "Min"] {
            c.append(Case(op: op, inputs: [("a", [2, 3]), ("b", [3]), ("c", [2, 1])]))
        }
        c.append(Case(op: "Expand", inputs: [("x", [3, 1])], extra: [try int64s("s", [2, 1, 4])], extraInputs: ["s"]))
        c.append(Case(op: "Tile", inputs: [("x", [2, 3])], extra: [try int64s("r", [2, 2])], extraInputs: ["r"]))
        c.append(Case(op: "Slice", inputs: [("x", [4, 5])], extra: [try int64s("st", [1, -1]), try int64s("en", [100, 0]),
                                                                  try int64s("ax", [0, 1]), try int64s("sp", [2, -2])],
                      extraInputs: ["st", "en", "ax", "sp"]))
        for mode in ["constant", "reflect", "edge"] {
            c.append(Case(op: "Pad", inputs: [("x", [3, 4])], attributes: [attribute("mode", .string(Array(mode.utf8)))],
                          extra: [try int64s("p", [1, 2, 2, 1])], extraInputs: ["p"]))
        }
        c.append(Case(op: "Trilu", inputs: [("x", [2, 3, 4])], extra: [try int64s("k", [1])], extraInputs: ["k"]))
        c.append(Case(op: "Trilu", inputs: [("x", [3, 3])], attributes: [attribute("upper", .int(0))]))
        c.append(Case(op: "CumSum", inputs: [("x", [2, 4])], extra: [try int64s("a", [1])], extraInputs: ["a"]))
        c.append(Case(op: "CumSum", inputs: [("x", [3, 2])], attributes: [attribute("exclusive", .int(1)), attribute("reverse", .int(1))],
                      extra: [try int64s("a", [0])], extraInputs: ["a"]))
        c.append(Case(op: "GatherElements", inputs: [("x", [3, 2])], attributes: [attribute("axis", .int(0))],
                      extra: [try Tensor(name: "i", dtype: .i64, shape: Shape([2, 2]), data: TensorData(values: [Int64(2), 0, -1, 2]))],
                      extraInputs: ["i"]))
        c.append(Case(op: "TopK", inputs: [("x", [2, 5])], extra: [try int64s("k", [3])], extraInputs: ["k"]))
        c.append(Case(op: "LayerNormalization", inputs: [("x", [2, 3, 4]), ("s", [4]), ("b", [4])]))
        c.append(Case(op: "LayerNormalization", inputs: [("x", [2, 3, 2]), ("s", [3, 2])], attributes: [attribute("axis", .int(1))]))
        c.append(Case(op: "InstanceNormalization", inputs: [("x", [2, 3, 4]), ("s", [3]), ("b", [3])]))
        c.append(Case(op: "GroupNormalization", inputs: [("x", [2, 4, 3]), ("s", [4]), ("b", [4])],
                      attributes: [attribute("num_groups", .int(2))], opset: 21))
        c.append(Case(op: "GroupNormalization", inputs: [("x", [2, 4, 3]), ("s", [2]), ("b", [2])],
                      attributes: [attribute("num_groups", .int(2))], opset: 18))
        c.append(Case(op: "LRN", inputs: [("x", [2, 4, 3])], attributes: [attribute("size", .int(3)), attribute("alpha", .float(0.5))]))
        for (eq, a, b) in [("bij,bjk->bik", [2, 3, 4], [2, 4, 2]), ("bhid,bhjd->bhij", [2, 2, 3, 4], [2, 2, 2, 4]),
                           ("ij,kj->ik", [3, 4], [2, 4]), ("bi,bi->b", [3, 4], [3, 4])] {
            c.append(Case(op: "Einsum", inputs: [("a", a), ("b", b)], attributes: [attribute("equation", .string(Array(eq.utf8)))], opset: 12))
        }
        c.append(Case(op: "Einsum", inputs: [("a", [2, 3, 4])], attributes: [attribute("equation", .string(Array("bij->jbi".utf8)))], opset: 12))
        // CNN ops
        c.append(Case(op: "ConvTranspose", inputs: [("x", [2, 2, 3, 3]), ("w", [2, 3, 3, 3]), ("b", [3])],
                      attributes: [attribute("strides", .ints([2, 2])), attribute("pads", .ints([1, 0, 1, 1])), attribute("output_padding", .ints([1, 0]))]))
        c.append(Case(op: "ConvTranspose", inputs: [("x", [1, 4, 5]), ("w", [4, 1, 3])],
                      attributes: [attribute("group", .int(2)), attribute("dilations", .ints([2]))]))
        c.append(Case(op: "GlobalMaxPool", inputs: [("x", [2, 3, 2, 2])]))
        for (mode, transform) in [("linear", "half_pixel"), ("linear", "align_corners"), ("nearest", "asymmetric")] {
            c.append(Case(op: "Resize", inputs: [("x", [1, 2, 3, 2])],
                          attributes: [attribute("mode", .string(Array(mode.utf8))), attribute("coordinate_transformation_mode", .string(Array(transform.utf8)))],
                          extra: [try Tensor(name: "scales", shape: [4], floats: [1, 1, 2, 1.5])], extraInputs: ["", "scales"], opset: 13))
        }
        // com.microsoft ops onnxruntime's transformer optimizer writes
        c.append(Case(op: "FastGelu", domain: "com.microsoft", inputs: [("x", [2, 3]), ("b", [3])], opset: 1))
        c.append(Case(op: "BiasGelu", domain: "com.microsoft", inputs: [("x", [2, 3]), ("b", [3])], opset: 1))
        c.append(Case(op: "SkipLayerNormalization", domain: "com.microsoft",
                      inputs: [("x", [2, 3, 4]), ("skip", [2, 3, 4]), ("gamma", [4]), ("beta", [4]), ("bias", [4])],
                      attributes: [attribute("epsilon", .float(1e-5))], opset: 1))
        return c
    }

    /// Builds the case's one-node model and checks the gradient of every float input against
    /// finite differences, and the op's shape traits on its output.
    func check(_ c: Case) throws {
        var rng = RNG(state: 42)
        var tensors = [Tensor]()
        for (name, shape) in c.inputs {
            let n = shape.reduce(1, *)
            tensors.append(try Tensor(name: name, shape: Shape(shape), floats: (0..<n).map { _ in c.positive ? rng.next() + 0.5 : rng.away() }))
        }
        tensors += c.extra
        let node = Node(name: "n", opType: c.op, domain: c.domain, inputs: c.order ?? (c.inputs.map(\.0) + c.extraInputs), outputs: ["y"], attributes: c.attributes)
        let graph = Graph(name: "g", opsets: [OpsetImport(domain: c.domain, version: c.opset)],
                          outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)], nodes: [node])
        var net = try Network(model: try Model(tensors: tensors, graph: graph))
        // a check that differentiates nothing could not fail
        XCTAssertEqual(Set(net.parameterNames), Set(c.inputs.map(\.0)), "\(c.key): every float input is a checked parameter")
        let y = try XCTUnwrap(try net.forward([:])["y"])
        let shapes = c.inputs.map(\.1)
        if let traits = OpTable.definition(c.key)?.traits {
            if traits.contains(.shapePreserving) { XCTAssertEqual(y.shape, shapes.first, "\(c.key) is declared shape-preserving") }
            if traits.contains(.elementwise) {
                XCTAssertEqual(y.shape, shapes.dropFirst().reduce(shapes.first) { acc, s in acc.flatMap { Broadcast.shape($0, s) } },
                               "\(c.key) is declared elementwise")
            }
        }
        let r = (0..<y.count).map { _ in rng.next() - 0.5 }
        func loss(_ n: Network) throws -> Double {
            let v = try XCTUnwrap(try n.forward([:])["y"]).floats
            return zip(v, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        let grads = try net.backward(try net.forward([:]), seeds: ["y": NDArray(shape: y.shape, floats: r)])
        let eps: Float = 1e-2
        for name in net.parameterNames {
            let g = try XCTUnwrap(grads[name])
            let base = try XCTUnwrap(net.parameters[name])
            for i in 0..<base.count {
                var p = base; p.floats[i] += eps; net.parameters[name] = p
                let up = try loss(net)
                p.floats[i] -= 2 * eps; net.parameters[name] = p
                let down = try loss(net)
                net.parameters[name] = base
                let numeric = Float((up - down) / Double(2 * eps))
                XCTAssertEqual(g.floats[i], numeric, accuracy: c.tol * max(1, abs(numeric)), "\(c.key) (opset \(c.opset)): d/d\(name)[\(i)]")
            }
        }
    }

    /// Coverage cannot drift: the checked ops are exactly the table's differentiable ones.
    func testEveryDifferentiableOpHasAGradientCheck() throws {
        let checked = Set(try Self.cases().map(\.key))
        XCTAssertEqual(checked.subtracting(OpTable.differentiableKeys), [], "checks of ops the table does not differentiate")
        XCTAssertEqual(OpTable.differentiableKeys.subtracting(checked), [], "differentiable ops without a gradient check")
    }

    /// Runs the checks of every differentiable entry of the table.
    func testGradientsMatchFiniteDifferences() throws {
        let cases = try Self.cases()
        for key in OpTable.differentiableKeys.sorted() {
            let mine = cases.filter { $0.key == key }
            if mine.isEmpty { XCTFail("\(key) is differentiable but has no gradient check") }
            for c in mine { try check(c) }
        }
    }
}
