import AICompressCore
@testable import AICompressTraining
import XCTest

/// Every differentiable op's gradient against central finite differences.
final class GradientCheckTests: XCTestCase {
    struct RNG {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        /// Uniform in ±[0.2, 1.2]: away from the kinks of Relu, Abs and friends.
        mutating func away() -> Float { (next() + 0.2) * (next() < 0.5 ? -1 : 1) }
    }

    /// Builds a one-node model whose float inputs are all initializers (so all are parameters),
    /// and checks d(Σ y·r)/d(input) for every input against finite differences.
    func check(_ op: String, inputs: [(String, [Int])], attributes: [Attribute] = [], extra: [Tensor] = [],
               extraInputs: [String] = [], opset: Int64 = 17, positive: Bool = false, tol: Float = 2e-2,
               file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = RNG(state: 42)
        var tensors = [Tensor]()
        for (name, shape) in inputs {
            let n = shape.reduce(1, *)
            tensors.append(try Tensor(name: name, shape: Shape(shape), floats: (0..<n).map { _ in positive ? rng.next() + 0.5 : rng.away() }))
        }
        tensors += extra
        let node = Node(name: "n", opType: op, inputs: inputs.map(\.0) + extraInputs, outputs: ["y"], attributes: attributes)
        let graph = Graph(name: "g", opsets: [OpsetImport(domain: "", version: opset)], outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)], nodes: [node])
        let model = try Model(tensors: tensors, graph: graph)
        var net = try Network(model: model)
        let y = try net.forward([:])["y"]!
        let r = (0..<y.count).map { _ in rng.next() - 0.5 }
        func loss(_ n: Network) throws -> Double {
            let v = try n.forward([:])["y"]!.floats
            return zip(v, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        let grads = try net.backward(try net.forward([:]), seeds: ["y": NDArray(shape: y.shape, floats: r)])
        for name in net.parameterNames {
            let g = grads[name]!
            let base = net.parameters[name]!
            for i in 0..<base.count {
                let eps: Float = 1e-2
                var p = base; p.floats[i] += eps; net.parameters[name] = p
                let up = try loss(net)
                p.floats[i] -= 2 * eps; net.parameters[name] = p
                let down = try loss(net)
                net.parameters[name] = base
                let numeric = Float((up - down) / Double(2 * eps))
                XCTAssertEqual(g.floats[i], numeric, accuracy: tol * max(1, abs(numeric)),
                               "\(op): d/d\(name)[\(i)]", file: file, line: line)
            }
        }
    }

    func testUnary() throws {
        for op in ["Relu", "Sigmoid", "Tanh", "Erf", "Neg", "Exp", "Abs", "Identity", "Softplus"] {
            try check(op, inputs: [("x", [2, 3])])
        }
        try check("LeakyRelu", inputs: [("x", [2, 3])], attributes: [Attribute(name: "alpha", value: .float(0.1))])
        try check("Elu", inputs: [("x", [2, 3])])
        try check("Gelu", inputs: [("x", [2, 3])], opset: 20)
        try check("Gelu", inputs: [("x", [2, 3])], attributes: [Attribute(name: "approximate", value: .string(Array("tanh".utf8)))], opset: 20)
        try check("Log", inputs: [("x", [2, 3])], positive: true)
        try check("Sqrt", inputs: [("x", [2, 3])], positive: true)
        try check("Dropout", inputs: [("x", [2, 3])])
    }

    func testBinaryWithBroadcasting() throws {
        for op in ["Add", "Sub", "Mul", "Div"] {
            try check(op, inputs: [("a", [2, 3, 4]), ("b", [3, 1])])
            try check(op, inputs: [("a", [4]), ("b", [2, 4])])
        }
        try check("Pow", inputs: [("a", [2, 3]), ("b", [3])], positive: true)
    }

    func testGemmAllTranspositions() throws {
        for ta in [0, 1] {
            for tb in [0, 1] {
                let a = ta == 1 ? [4, 3] : [3, 4], b = tb == 1 ? [5, 4] : [4, 5]
                try check("Gemm", inputs: [("A", a), ("B", b), ("C", [5])],
                          attributes: [Attribute(name: "transA", value: .int(Int64(ta))), Attribute(name: "transB", value: .int(Int64(tb))),
                                       Attribute(name: "alpha", value: .float(0.7)), Attribute(name: "beta", value: .float(1.3))])
            }
        }
    }

    func testMatMul() throws {
        try check("MatMul", inputs: [("a", [3, 4]), ("b", [4, 2])])
        try check("MatMul", inputs: [("a", [2, 3, 4]), ("b", [4, 2])])
        try check("MatMul", inputs: [("a", [2, 3, 4]), ("b", [2, 4, 2])])
        try check("MatMul", inputs: [("a", [4]), ("b", [4, 2])])
        try check("MatMul", inputs: [("a", [2, 2, 3, 4]), ("b", [2, 4, 5])]) // batch broadcast
        try check("MatMul", inputs: [("a", [3, 1, 2, 4]), ("b", [2, 4, 3])]) // both sides broadcast
    }

    func testSoftmaxFamily() throws {
        try check("Softmax", inputs: [("x", [2, 5])])
        try check("LogSoftmax", inputs: [("x", [2, 5])])
        try check("Softmax", inputs: [("x", [2, 3, 4])], attributes: [Attribute(name: "axis", value: .int(1))])
        try check("Softmax", inputs: [("x", [2, 3, 4])], attributes: [Attribute(name: "axis", value: .int(1))], opset: 11)
    }

    func testShapeOps() throws {
        try check("Flatten", inputs: [("x", [2, 3, 4])])
        try check("Transpose", inputs: [("x", [2, 3, 4])], attributes: [Attribute(name: "perm", value: .ints([2, 0, 1]))])
        try check("Reshape", inputs: [("x", [2, 3, 4])], extra: [try Tensor(name: "s", dtype: .i64, shape: [2], data: TensorData(values: [-1, 4] as [Int64]))], extraInputs: ["s"])
        try check("Concat", inputs: [("a", [2, 3]), ("b", [2, 2])], attributes: [Attribute(name: "axis", value: .int(1))])
        try check("Gather", inputs: [("x", [4, 3])], extra: [try Tensor(name: "i", dtype: .i64, shape: [3], data: TensorData(values: [2, 0, 2] as [Int64]))], extraInputs: ["i"])
    }

    func testConvolutions() throws {
        try check("Conv", inputs: [("x", [2, 2, 5, 5]), ("w", [3, 2, 3, 3]), ("b", [3])],
                  attributes: [Attribute(name: "pads", value: .ints([1, 1, 1, 1]))])
        try check("Conv", inputs: [("x", [1, 4, 6, 5]), ("w", [4, 2, 2, 3])],
                  attributes: [Attribute(name: "strides", value: .ints([2, 1])), Attribute(name: "group", value: .int(2)),
                               Attribute(name: "dilations", value: .ints([1, 2]))])
        try check("Conv", inputs: [("x", [2, 2, 7]), ("w", [3, 2, 3]), ("b", [3])],
                  attributes: [Attribute(name: "auto_pad", value: .string(Array("SAME_UPPER".utf8)))])
    }

    func testPooling() throws {
        try check("MaxPool", inputs: [("x", [2, 2, 4, 4])], attributes: [Attribute(name: "kernel_shape", value: .ints([2, 2])),
                                                                         Attribute(name: "strides", value: .ints([2, 2]))])
        try check("AveragePool", inputs: [("x", [1, 2, 5, 5])], attributes: [Attribute(name: "kernel_shape", value: .ints([3, 3])),
                                                                             Attribute(name: "pads", value: .ints([1, 1, 1, 1])),
                                                                             Attribute(name: "strides", value: .ints([2, 2]))])
        try check("GlobalAveragePool", inputs: [("x", [2, 3, 3, 3])])
    }

    func testBatchNormalization() throws {
        let mean = try Tensor(name: "aicompress.mean", shape: [3], floats: [0.1, -0.2, 0.3])
        let v = try Tensor(name: "aicompress.var", shape: [3], floats: [0.5, 1.5, 2])
        try check("BatchNormalization", inputs: [("x", [2, 3, 2, 2]), ("scale", [3]), ("bias", [3])], extra: [mean, v],
                  extraInputs: ["aicompress.mean", "aicompress.var"])
    }
}
