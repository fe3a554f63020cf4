extension Prune {
    /// The pruning parameters, declared once (recipe keys, CLI flags, help and ranges).
    public enum Parameter {
        /// Fraction of weights (or channels) to keep.
        public static let keep = PassParameter("keep", .number(0...1), help: "Fraction of weights (or channels) to keep, 0...1.")
        /// Fraction of weights to remove, another way to give `keep`.
        public static let sparsity = PassParameter("sparsity", .number(0...1), help: "Fraction of weights to remove (1 - keep).")
        /// Per-tensor or global magnitude threshold.
        public static let scope = PassParameter(
            "scope", .choice(Scope.allCases.map(\.rawValue)), default: Scope.tensor.rawValue,
            help: "tensor: each tensor keeps the fraction; global: one threshold across all selected tensors.")
        /// `N:M` or `channels`; magnitude pruning when absent.
        public static let pattern = PassParameter(
            "pattern", .text, help: "N:M (e.g. 2:4) for semi-structured sparsity, or 'channels' for structured pruning.")
        /// Channel score for channel pruning.
        public static let norm = PassParameter("norm", .choice(Norm.allCases.map(\.rawValue)), default: Norm.l2.rawValue,
                                               help: "Channel score for `pattern` channels: l1 or l2.")
        /// The pass's own parameters, in help order.
        public static let all = [keep, sparsity, scope, pattern, norm]
    }

    /// `prune`.
    public static let stepName = "prune"
    /// The pruning parameters, then the selection's.
    public static let declaredParameters = Parameter.all + TensorSelection.Parameter.all

    /// The pass these values describe: magnitude pruning unless `pattern` is given; `keep` or
    /// `sparsity` is needed except for N:M, which fixes it.
    /// - Throws: `PassError.invalidParameter` naming the parameter at fault.
    public init(parameters given: PassParameters) throws {
        typealias P = Parameter
        try given.check(Prune.declaredParameters)
        let keep = given.number(P.keep), sparsity = given.number(P.sparsity)
        if keep != nil && sparsity != nil {
            throw P.keep.invalid("\(keep ?? 0)", "give `keep` or `sparsity`, not both")
        }
        let fraction = keep ?? sparsity.map { 1 - $0 }
        let scope = given.text(P.scope).flatMap(Scope.init(rawValue:)) ?? .tensor
        let norm = given.text(P.norm).flatMap(Norm.init(rawValue:)) ?? .l2
        // A recipe records the settings that apply: scope for magnitude, norm for channels.
        var values = given
        values[P.scope] = nil
        values[P.norm] = nil
        let method: Method
        if let pattern = given.text(P.pattern) {
            if pattern == "channels" {
                guard let f = fraction else { throw P.pattern.invalid(pattern, "`pattern` channels needs `keep` or `sparsity`") }
                method = .channels(keep: f, norm: norm)
                values[P.norm] = .text(norm.rawValue)
            } else {
                let parts = pattern.split(separator: ":")
                guard parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]) else {
                    throw P.pattern.invalid(pattern, "`pattern` must be N:M (e.g. 2:4) or 'channels'")
                }
                guard fraction == nil else {
                    throw P.pattern.invalid(pattern, "`pattern` N:M fixes the sparsity; drop `keep`/`sparsity`")
                }
                guard m >= 1, n >= 0, n <= m else {
                    throw P.pattern.invalid(pattern, "`pattern` N:M needs 0 <= N <= M and M >= 1 (got \(pattern))")
                }
                method = .nm(n: n, m: m)
            }
        } else {
            guard let f = fraction else { throw P.keep.invalid("", "give `keep`, `sparsity` or `pattern`") }
            method = .magnitude(keep: f, scope: scope)
            values[P.scope] = .text(scope.rawValue)
        }
        self.init(method: method, selection: TensorSelection(parameters: given), values: values)
    }

    /// The values of this pass: as given when it was built from values, else from `method`.
    public var parameterValues: PassParameters { values }

    /// The values a recipe records for `method` and `selection`.
    static func values(of method: Method, _ selection: TensorSelection) -> PassParameters {
        var v = selection.parameterValues
        switch method {
        case .magnitude(let keep, let scope):
            v[Parameter.keep] = .number(keep)
            v[Parameter.scope] = .text(scope.rawValue)
        case .nm(let n, let m):
            v[Parameter.pattern] = .text("\(n):\(m)")
        case .channels(let keep, let norm):
            v[Parameter.keep] = .number(keep)
            v[Parameter.pattern] = .text("channels")
            v[Parameter.norm] = .text(norm.rawValue)
        }
        return v
    }
}
