import AICompressPasses

/// Where a pass's parameter values came from, so that an error names what the user wrote.
enum ParameterSource: Equatable {
    /// Flags of a pass command (`--keep`).
    case commandLine
    /// Keys of the recipe at this path (`keep`).
    case recipe(String)
}

extension PassRunner {
    /// The failure the CLI reports for a pass error. The exit code is `ExitStatus`'s (the one
    /// mapping of `PassError`); this adds what the message needs: parameters named as the user
    /// wrote them, and the input path for data errors. A usage error from a recipe is an error
    /// in that file (exit 65, named by its path), not in the command line.
    static func failure(_ e: PassError, input: String, parameters: ParameterSource) -> ExitStatus.Failure {
        let code = ExitStatus(e)?.code ?? ExitStatus.software
        let message = parameters == .commandLine ? e.commandLineMessage : e.description
        switch (code, parameters) {
        case (ExitStatus.usage, .commandLine): return ExitStatus.Failure(code: code, message: message)
        case (ExitStatus.usage, .recipe(let file)): return ExitStatus.Failure(code: ExitStatus.dataError, message: "\(file): \(message)")
        default: return ExitStatus.Failure(code: code, message: "\(input): \(message)")
        }
    }
}
