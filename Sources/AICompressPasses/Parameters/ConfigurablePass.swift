/// A pass that a recipe step or a command builds from declared parameters.
///
/// `declaredParameters` is the one declaration of the pass's parameters: recipe keys, CLI
/// flags and help come from it, `init(parameters:)` is the only place their ranges and
/// combinations are checked, and `parameterValues` is what a recipe records to rebuild it.
public protocol ConfigurablePass: CompressionPass {
    /// The recipe step and CLI subcommand name, e.g. `prune`.
    static var stepName: String { get }
    /// Every parameter, in the order help lists them and recipes record them.
    static var declaredParameters: [PassParameter] { get }
    /// The pass these values describe.
    /// - Throws: `PassError.invalidParameter` naming the parameter at fault.
    init(parameters: PassParameters) throws
    /// Values that rebuild this pass: those given, with the defaults a recipe records.
    var parameterValues: PassParameters { get }
}

extension ConfigurablePass {
    /// The provenance name is the step name.
    public var name: String { Self.stepName }
}

/// Every pass that recipes and pass commands can name: registering a pass is one line here.
public enum PassCatalog {
    /// The passes in the order help lists them.
    public static let passes: [any ConfigurablePass.Type] = [Prune.self, Quantize.self, Dequantize.self, GGUFQuantize.self]

    /// The pass whose step name is `name`.
    public static func pass(named name: String) -> (any ConfigurablePass.Type)? {
        passes.first { $0.stepName == name }
    }
}
