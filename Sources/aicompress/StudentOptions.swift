import AICompressFormats
import AICompressPasses
import ArgumentParser

/// Where `distill` gets its student: a given model (--student), an MLP it builds (--hidden), or
/// the teacher cut down by channel pruning (--shrink); exactly one.
struct StudentOptions: ParsableArguments {
    @Option(help: "Student model to train (same input and classes as the teacher).")
    var student: String?

    @Option(help: "Build an MLP student with these hidden widths, e.g. 64,32.")
    var hidden: HiddenWidths?

    @Option(help: "Make the student from the teacher by keeping this fraction of each hidden layer's channels (L2 norm).")
    var shrink: Double?

    /// Refuses none or several of the three, and values out of range. (Not `validate()`, which
    /// the parser would run before `distill`'s own checks: `distill` calls it in its order.)
    func check() throws {
        let kinds = [student != nil, hidden != nil, shrink != nil].filter { $0 }.count
        guard kinds == 1 else { throw ValidationError("give exactly one of --student, --hidden, --shrink") }
        if let h = hidden, !h.isValid { throw ValidationError("--hidden must be positive widths, e.g. 64,32") }
        if let s = shrink, !(s > 0 && s <= 1) { throw ValidationError("--shrink must be in (0, 1]") }
    }

    /// The given student model, read (nil when the student is built or cut).
    func readGiven() throws -> LoadedModel? {
        try student.map { try ModelIO.read(path: $0) }
    }

    /// The student as the library takes it; `given` is `readGiven()`'s model.
    func kind(given: LoadedModel?) -> Distillation.Student {
        if let given { return .model(given.model) }
        if let h = hidden { return .mlp(hidden: h.widths) }
        return .shrink(keep: shrink ?? 1)
    }
}

/// `--hidden 64,32`: the hidden widths of an MLP student (range-checked in `validate`).
struct HiddenWidths: ExpressibleByArgument {
    var widths: [Int]

    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, !parts.contains(nil) else { return nil }
        widths = parts.compactMap { $0 }
    }

    /// Positive and at most 65,536 each.
    var isValid: Bool { widths.allSatisfy { $0 > 0 && $0 <= 1 << 16 } }
}
