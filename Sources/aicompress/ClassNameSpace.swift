import AICompressTraining

/// The classes of an evaluation by name, when the model's classes and the data's labels are
/// text: each name gets one code (the model's classes first, in its order, then labels only
/// the data has), so metrics compare names, not the indices each side numbers them by.
struct ClassNameSpace {
    private(set) var names: [String]
    private var codes: [String: Int] = [:]

    init(_ names: [String]) {
        self.names = []
        for n in names { _ = code(n) }
    }

    /// The code of `name`, given a new one if it has none yet.
    mutating func code(_ name: String) -> Double {
        if let c = codes[name] { return Double(c) }
        codes[name] = names.count
        names.append(name)
        return Double(names.count - 1)
    }

    /// `values` (indices into `within`) as codes of this space.
    mutating func codes(_ values: [Double], within: [String], what: String) throws -> [Double] {
        try values.map { v in
            guard v >= 0, v < Double(within.count), v == v.rounded() else {
                throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(what): class index \(v) is out of range for \(within.count) classes")
            }
            return code(within[Int(v)])
        }
    }

    /// Refuses labels and classes of different kinds (text against numbers): comparing them
    /// would count every row wrong.
    static func check(model: String, task: ModelTask, isClassification: Bool, data: Dataset, file: String) throws {
        let label = "label column '\(data.labelName ?? "?")' of \(file)"
        func few(_ n: [String]) -> String { n.prefix(4).joined(separator: ", ") + (n.count > 4 ? ", …" : "") }
        if let d = data.targetNames, task.classNames == nil {
            let kind = isClassification ? "classes are numbers" : "output is a regression value"
            throw ExitStatus.Failure(code: ExitStatus.dataError, message: "the \(label) holds text (\(few(d))); \(model)'s \(kind)")
        }
        if let m = task.classNames, data.targetNames == nil {
            throw ExitStatus.Failure(code: ExitStatus.dataError, message: "the \(label) holds numbers; \(model)'s classes are text (\(few(m)))")
        }
    }
}
