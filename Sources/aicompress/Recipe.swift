import AICompressCore
import AICompressPasses
import Foundation
import Yams

/// A recipe: compression steps with their options, as YAML.
///
///     steps:
///       - prune:
///           keep: 0.5
///           scope: global
///           include: "*.weight"
///       - quantize:
///           int8: true
///           exclude: ["classifier.*"]
///
/// Each step is one command (prune, quantize, dequantize) and its keys are that command's long
/// options without `--`: a value gives `--key value`, a list repeats the option, `true` gives
/// the flag and `false` leaves it out. Output and report options belong to `apply` itself.
struct Recipe: Equatable {
    struct Option: Equatable {
        var key: String
        var values: [String]
        /// Whether the YAML value was `true` (a flag).
        var isFlag: Bool
        var line: Int = 0
        static func == (a: Option, b: Option) -> Bool { a.key == b.key && a.values == b.values && a.isFlag == b.isFlag }
    }

    struct Step: Equatable {
        var command: String
        var options: [Option]
        var line: Int = 0
        static func == (a: Step, b: Step) -> Bool { a.command == b.command && a.options == b.options }

        /// The command line this step stands for (without input and output).
        var arguments: [String] {
            options.flatMap { o in o.isFlag ? ["--" + o.key] : o.values.flatMap { ["--" + o.key, $0] } }
        }
    }

    var steps: [Step]

    /// The step names: every pass in the catalog.
    static var commands: [String] { PassCatalog.passes.map { $0.stepName } }
    /// Options of every pass command that are `apply`'s, not a step's.
    static let reserved: Set<String> = ["format", "sync", "external-data", "sparse-initializers", "shard-size", "report-json",
                                        "quiet", "list", "help"]

    /// Metadata key holding the recipe that produced a file.
    static let metadataKey = "aicompress.recipe"

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: Reading

    static func parse(_ text: String, file: String) throws -> Recipe {
        func fail(_ line: Int?, _ m: String) -> Failure { Failure(description: line.map { "\(file):\($0): \(m)" } ?? "\(file): \(m)") }
        let root: Yams.Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw fail(nil, "not valid YAML: " + String(describing: error).split(separator: "\n").joined(separator: " "))
        }
        guard let root, case .mapping(let top) = root else { throw fail(root?.mark?.line, "a recipe is a mapping with a 'steps' list") }
        var stepsNode: Yams.Node?
        for (k, v) in top {
            switch k.string {
            case "steps"?: stepsNode = v
            case "version"?: guard v.string == "1" else { throw fail(v.mark?.line, "key 'version': only version 1 exists") }
            case "name"?, "description"?: break
            default: throw fail(k.mark?.line, "unknown key '\(k.string ?? "?")' (keys: steps, version, name, description)")
            }
        }
        guard let stepsNode, case .sequence(let seq) = stepsNode else {
            throw fail(stepsNode?.mark?.line ?? root.mark?.line, "key 'steps' must be a list of steps")
        }
        var steps = [Step]()
        for (i, node) in seq.enumerated() {
            let line = node.mark?.line
            var command: String
            var optionsNode: Yams.Node?
            switch node {
            case .scalar(let s): command = s.string
            case .mapping(let m):
                guard m.count == 1, let (k, v) = m.first, let name = k.string else {
                    throw fail(line, "step \(i + 1) must be one command name with its options, e.g. 'prune: {keep: 0.5}'")
                }
                command = name
                optionsNode = v
            default: throw fail(line, "step \(i + 1) must be a command name or a mapping")
            }
            guard commands.contains(command) else {
                throw fail(line, "step \(i + 1): unknown step '\(command)' (steps: \(commands.joined(separator: ", ")))")
            }
            var options = [Option]()
            var optionMapping: Yams.Node.Mapping? = nil
            if let on = optionsNode {
                switch on {
                case .mapping(let om): optionMapping = om
                case .scalar(let s) where s.string.isEmpty || s.string == "~" || s.string == "null": break
                default: throw fail(on.mark?.line, "step \(i + 1) (\(command)): options must be a mapping of key: value")
                }
            }
            for (k, v) in optionMapping ?? [:] {
                guard let key = k.string, !key.isEmpty else { throw fail(k.mark?.line, "step \(i + 1) (\(command)): a key must be text") }
                let kl = k.mark?.line ?? 0
                if reserved.contains(key) {
                    throw fail(kl, "step \(i + 1) (\(command)): key '\(key)' is an option of apply itself, not of a step")
                }
                switch v {
                case .scalar(let s):
                    let t = s.string
                    if t == "true" || t == "false" {
                        if t == "true" { options.append(Option(key: key, values: [], isFlag: true, line: kl)) }
                    } else {
                        options.append(Option(key: key, values: [t], isFlag: false, line: kl))
                    }
                case .sequence(let items):
                    var values = [String]()
                    for item in items {
                        guard case .scalar(let s) = item else {
                            throw fail(item.mark?.line, "step \(i + 1) (\(command)): key '\(key)': list items must be plain values")
                        }
                        values.append(s.string)
                    }
                    options.append(Option(key: key, values: values, isFlag: false, line: kl))
                default:
                    throw fail(kl, "step \(i + 1) (\(command)): key '\(key)': value must be a scalar or a list")
                }
            }
            steps.append(Step(command: command, options: options, line: line ?? 0))
        }
        guard !steps.isEmpty else { throw fail(stepsNode.mark?.line, "key 'steps' is empty") }
        return Recipe(steps: steps)
    }

    // MARK: Passes

    /// The pass of each step, built from its keys through the pass's declared parameters (a
    /// calibrated step through `CalibratedStep`, which reads and checks its data files);
    /// errors name the recipe line and key.
    func passes(file: String, input: ApplyInput) throws -> [any CompressionPass] {
        try steps.enumerated().map { i, step in
            if step.isCalibrated { return try step.calibratedPass(file: file, number: i + 1, input: input, first: i == 0) }
            return try step.pass(file: file, number: i + 1)
        }
    }

    // MARK: Writing

    static func quote(_ s: String) -> String {
        let plain = !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || "._-:/".contains($0) }
            && !["true", "false", "null", "yes", "no", "on", "off", "~"].contains(s.lowercased())
        return plain ? s : "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// The recipe as canonical YAML (what `aicompress recipe` prints and provenance stores).
    var yaml: String {
        var s = "# aicompress recipe: reproduce with `aicompress apply THIS_FILE IN OUT`\nversion: 1\nsteps:\n"
        for step in steps {
            if step.options.isEmpty { s += "  - \(step.command)\n"; continue }
            s += "  - \(step.command):\n"
            for o in step.options {
                if o.isFlag { s += "      \(o.key): true\n" } else if o.values.count == 1 {
                    s += "      \(o.key): \(Recipe.quote(o.values[0]))\n"
                } else {
                    s += "      \(o.key): [" + o.values.map(Recipe.quote).joined(separator: ", ") + "]\n"
                }
            }
        }
        return s
    }

    /// The recipe recorded in `metadata` followed by `steps`.
    static func extended(_ metadata: [String: String], with steps: [Step]) -> String {
        var prior: [Step] = []
        if let text = metadata[metadataKey], let r = try? Recipe.parse(text, file: "provenance") { prior = r.steps }
        return Recipe(steps: prior + steps).yaml
    }
}

// MARK: Steps and passes

extension Recipe.Step {
    /// The step that rebuilds `pass`: its parameter values, in declaration order.
    init<Pass: ConfigurablePass>(_ pass: Pass) {
        self.init(command: Pass.stepName, options: Self.options(pass.parameterValues, Pass.declaredParameters))
    }

    /// `values` as the keys of their `declared` parameters, in declaration order.
    static func options(_ values: PassParameters, _ declared: [PassParameter]) -> [Recipe.Option] {
        values.entries(in: declared).map { p, value -> Recipe.Option in
            switch (p.kind, value) {
            case (.flagPerChoice, .text(let word)): return Recipe.Option(key: word, values: [], isFlag: true)
            case (_, .flag): return Recipe.Option(key: p.name, values: [], isFlag: true)
            default: return Recipe.Option(key: p.name, values: value.words, isFlag: false)
            }
        }
    }

    /// The pass this step names, its keys read through the pass's declaration. Errors name the
    /// file, the line, step `number` and the key at fault.
    func pass(file: String, number: Int) throws -> any CompressionPass {
        func fail(_ option: Recipe.Option?, _ message: String) -> Recipe.Failure {
            let key = option.map { " key '\($0.key)':" } ?? ""
            return Recipe.Failure(description: "\(file):\(option?.line ?? line): step \(number) (\(command)):\(key) \(message)")
        }
        guard let kind = PassCatalog.pass(named: command) else { throw fail(nil, "unknown step") }
        let declared = kind.declaredParameters
        var values = PassParameters()
        // An empty list gives nothing, as on the command line.
        for option in options where option.isFlag || !option.values.isEmpty {
            guard let p = declared.parameter(forKey: option.key) else {
                let keys = declared.flatMap(\.keys)
                throw fail(option, keys.isEmpty ? "\(command) takes no keys"
                                                : "not a key of \(command) (keys: \(keys.joined(separator: ", ")))")
            }
            guard values[p] == nil else { throw fail(option, "\(p.name) is given twice") }
            do { values[p] = try p.value(key: option.key, words: option.values, isFlag: option.isFlag) } catch let e as PassError {
                throw fail(option, e.description)
            }
        }
        do { return try kind.init(parameters: values) } catch let e as PassError {
            var culprit: Recipe.Option?
            if case .invalidParameter(let name, _, _) = e { culprit = options.first { declared.parameter(forKey: $0.key)?.name == name } }
            throw fail(culprit, e.description)
        }
    }
}
