extension TensorSelection {
    /// The selection's parameters, shared by every pass that selects tensors.
    public enum Parameter {
        /// Globs a tensor must match one of.
        public static let include = PassParameter("include", .list,
                                                  help: "Only tensors whose name matches this glob (repeatable), e.g. '*.weight'.")
        /// Globs a tensor must match none of.
        public static let exclude = PassParameter("exclude", .list,
                                                  help: "Skip tensors whose name matches this glob (repeatable), e.g. 'classifier.*'.")
        /// Touch 1-D tensors too.
        public static let includeOneDimensional = PassParameter("include-1d", .flag,
                                                                help: "Also touch 1-D tensors (biases, norm weights), skipped by default.")
        /// Touch embedding tables too.
        public static let includeEmbeddings = PassParameter("include-embeddings", .flag,
                                                            help: "Also touch embedding tables, skipped by default.")
        /// All of them, in the order recipes record them.
        public static let all = [include, exclude, includeOneDimensional, includeEmbeddings]
    }

    /// The selection these values describe (other passes' parameters are ignored).
    public init(parameters: PassParameters) {
        self.init(include: parameters.list(Parameter.include), exclude: parameters.list(Parameter.exclude),
                  includeOneDimensional: parameters.flag(Parameter.includeOneDimensional),
                  includeEmbeddings: parameters.flag(Parameter.includeEmbeddings))
    }

    /// The values that rebuild this selection (empty parts left out).
    public var parameterValues: PassParameters {
        var v = PassParameters()
        if !include.isEmpty { v[Parameter.include] = .list(include) }
        if !exclude.isEmpty { v[Parameter.exclude] = .list(exclude) }
        if includeOneDimensional { v[Parameter.includeOneDimensional] = .flag }
        if includeEmbeddings { v[Parameter.includeEmbeddings] = .flag }
        return v
    }
}
