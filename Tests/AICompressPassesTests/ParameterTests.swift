import AICompressCore
@testable import AICompressPasses
import XCTest

/// The declared pass parameters: checks, parsing, messages and the values a pass records.
final class ParameterTests: XCTestCase {
    func values(_ pairs: [(PassParameter, ParameterValue)]) -> PassParameters {
        var v = PassParameters()
        for (p, x) in pairs { v[p] = x }
        return v
    }

    func invalid(_ body: @autoclosure () throws -> Any, name: String, reason: String, file: StaticString = #filePath,
                 line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) {
            guard case .invalidParameter(let n, _, let r)? = $0 as? PassError else { return XCTFail("\($0)", file: file, line: line) }
            XCTAssertEqual(n, name, file: file, line: line)
            XCTAssertEqual(PassParameter.spell(r) { $0 }, reason, file: file, line: line)
        }
    }

    func testRangesAndChoicesComeFromTheDeclaration() {
        typealias P = Prune.Parameter
        invalid(try Prune(parameters: values([(P.keep, .number(1.5))])), name: "keep", reason: "keep must be between 0 and 1")
        invalid(try Prune(parameters: values([(P.sparsity, .number(-0.1))])), name: "sparsity",
                reason: "sparsity must be between 0 and 1")
        invalid(try Prune(parameters: values([(P.keep, .number(0.5)), (P.scope, .text("all"))])), name: "scope",
                reason: "scope must be one of tensor, global (got all)")
        invalid(try Quantize(parameters: values([(Quantize.Parameter.groupSize, .integer(0))])), name: "group-size",
                reason: "group-size must be at least 1")
        invalid(try Quantize(parameters: values([(Quantize.Parameter.clip, .text("percentile:20"))])), name: "clip",
                reason: "clip percentile:P needs 50 < P <= 100")
        invalid(try Quantize(parameters: values([(Quantize.Parameter.scheme, .text("fp16")), (Quantize.Parameter.perTensor, .flag)])),
                name: "scheme", reason: "fp16 is a plain cast: granularity, symmetry, clipping, scale type and importance do not apply")
        invalid(try Quantize(parameters: values([(Quantize.Parameter.scaleType, .text("f64"))])), name: "scale-type",
                reason: "scale-type must be one of f32, f16 (got f64)")
        invalid(try Quantize(parameters: values([(Quantize.Parameter.imatrix, .text("m.gguf"))])), name: "imatrix",
                reason: "imatrix weights the least-squares scale search: it needs clip lsq (the default for int4)")
        // a typed pass is checked by the same declaration when it runs
        invalid(try Prune(method: .magnitude(keep: 1.5, scope: .tensor)).validate(), name: "keep", reason: "keep must be between 0 and 1")
        invalid(try Quantize(scheme: .int4, granularity: .group(0)).validate(), name: "group-size", reason: "group-size must be at least 1")
    }

    func testMessagesNameParametersOrFlags() {
        let e = PassError.invalidParameter(name: "keep", value: "", reason: "give `keep` or `sparsity`, not both")
        XCTAssertEqual(e.description, "give keep or sparsity, not both")
        XCTAssertEqual(e.message { "--" + $0 }, "give --keep or --sparsity, not both")
        // only backquoted lowercase words are parameters
        XCTAssertEqual(PassParameter.spell("a `B` c ` d `x`") { "<\($0)>" }, "a `B` c ` d <x>")
        let u = PassError.unsupported(tensor: "w", reason: "leave it out with `exclude` 'w'")
        XCTAssertEqual(u.description, "tensor 'w': leave it out with exclude 'w'")
    }

    func testRecipeTextIsParsedByKind() throws {
        typealias P = Prune.Parameter
        XCTAssertEqual(try P.keep.value(key: "keep", words: ["0.25"], isFlag: false), .number(0.25))
        XCTAssertEqual(try P.keep.value(key: "keep", words: ["0.5", "0.25"], isFlag: false), .number(0.25))
        XCTAssertEqual(try TensorSelection.Parameter.include.value(key: "include", words: ["a", "b"], isFlag: false), .list(["a", "b"]))
        XCTAssertEqual(try Quantize.Parameter.scheme.value(key: "uint4", words: [], isFlag: true), .text("uint4"))
        XCTAssertEqual(Quantize.declaredParameters.parameter(forKey: "bf16"), Quantize.Parameter.scheme)
        XCTAssertNil(Prune.declaredParameters.parameter(forKey: "scop"))
        invalid(try P.keep.value(key: "keep", words: ["abc"], isFlag: false), name: "keep", reason: "keep must be a number (got abc)")
        invalid(try P.keep.value(key: "keep", words: [], isFlag: true), name: "keep", reason: "keep takes a value")
        invalid(try Quantize.Parameter.scheme.value(key: "int8", words: ["3"], isFlag: false), name: "scheme",
                reason: "int8 is a flag: true or false")
    }

    /// What a pass records rebuilds the same pass, and keeps the user's spelling.
    func testValuesRoundTrip() throws {
        typealias P = Prune.Parameter
        let sparse = try Prune(parameters: values([(P.sparsity, .number(0.7)), (P.scope, .text("global")), (P.norm, .text("l1"))]))
        XCTAssertEqual(sparse.method, .magnitude(keep: 1 - 0.7, scope: .global))
        XCTAssertEqual(sparse.parameterValues, values([(P.sparsity, .number(0.7)), (P.scope, .text("global"))]), "norm does not apply")
        let nm = try Prune(parameters: values([(P.pattern, .text("2:4")), (P.scope, .text("global"))]))
        XCTAssertEqual(nm.parameterValues, values([(P.pattern, .text("2:4"))]))
        XCTAssertEqual(nm.stepDescription, "prune method=2:4")
        let passes: [any ConfigurablePass] = [
            Prune(method: .magnitude(keep: 0.3, scope: .tensor), selection: TensorSelection(include: ["*.weight"])),
            Prune(method: .channels(keep: 0.5, norm: .l1)), Prune(method: .nm(n: 1, m: 4)),
            Quantize(scheme: .int4, granularity: .group(64), symmetric: false, clip: .percentile(99.5),
                     selection: TensorSelection(exclude: ["fc2.*"], includeOneDimensional: true)),
            Quantize(scheme: .uint8), Quantize(scheme: .bf16), Dequantize(),
            Quantize(scheme: .int8, clip: .leastSquares, scaleType: .f16), Quantize(scheme: .int4, clip: .mse, scaleType: .f32),
            GGUFQuantize(fileType: GGUFFileType.named("Q4_K_M")!, pure: true, overrides: [("attn_v", .q8_0)]),
        ]
        for pass in passes {
            let again = try type(of: pass).init(parameters: pass.parameterValues)
            XCTAssertEqual(again.stepDescription, pass.stepDescription)
            XCTAssertEqual(again.parameterValues, pass.parameterValues, pass.stepDescription)
        }
        let q = try Quantize(parameters: values([(Quantize.Parameter.clip, .text("minmax"))]))
        XCTAssertEqual(q.parameterValues, values([(Quantize.Parameter.scheme, .text("int8"))]), "scheme always, a default clip never")
        XCTAssertEqual(q.stepDescription, "quantize scheme=int8 granularity=per-channel symmetric=true clip=minmax")
        // int4's defaults are lsq and f16 scales: minmax and f32 are then recorded, and f16 named.
        let int4 = try Quantize(parameters: values([(Quantize.Parameter.scheme, .text("int4"))]))
        XCTAssertEqual(int4.stepDescription, "quantize scheme=int4 granularity=group-32 symmetric=true clip=lsq scale-type=f16")
        let old = try Quantize(parameters: values([(Quantize.Parameter.scheme, .text("int4")), (Quantize.Parameter.clip, .text("minmax")),
                                                   (Quantize.Parameter.scaleType, .text("f32"))]))
        XCTAssertEqual(old.parameterValues, values([(Quantize.Parameter.scheme, .text("int4")), (Quantize.Parameter.clip, .text("minmax")),
                                                    (Quantize.Parameter.scaleType, .text("f32"))]))
        XCTAssertEqual(old.stepDescription, "quantize scheme=int4 granularity=group-32 symmetric=true clip=minmax")
    }

    func testCatalogNamesEveryPassOnce() {
        XCTAssertEqual(PassCatalog.passes.map { $0.stepName }, ["prune", "quantize", "dequantize", "quantize-gguf"])
        for pass in PassCatalog.passes {
            let keys = pass.declaredParameters.flatMap(\.keys)
            XCTAssertEqual(Set(keys).count, keys.count, "\(pass.stepName) declares a key twice")
        }
    }
}
