import AICompressCore
import AICompressFormats

/// How two models differ outside their tensors, for `diff`: metadata key by key (GGUF's typed
/// pairs, stored together under `gguf.kv`, compared pair by pair) and the graph's op counts.
struct ModelHeaderDifference {
    /// One metadata key that is missing on a side or has another value there.
    struct Change {
        /// The key; a GGUF pair's key is prefixed `gguf.kv:`.
        let key: String
        /// The value in A and in B as `inspect` shows it (GGUF arrays as their length and type,
        /// long strings cut), nil where the key is absent.
        let a: String?, b: String?
    }

    /// The keys that differ, sorted.
    let changes: [Change]
    /// Metadata keys on either side.
    let keys: Int
    /// Op counts of A's and B's graphs (nested graphs included), nil without a graph.
    let opsA: [String: Int]?, opsB: [String: Int]?

    init(_ a: Model, _ b: Model) {
        let left = Self.entries(a.metadata), right = Self.entries(b.metadata)
        let all = Set(left.keys).union(right.keys)
        keys = all.count
        changes = all.sorted().compactMap { key in
            let x = left[key], y = right[key]
            return x?.value == y?.value ? nil : Change(key: key, a: x?.shown, b: y?.shown)
        }
        opsA = a.graph?.opCounts()
        opsB = b.graph?.opCounts()
    }

    /// A metadata value, comparable, and how it is shown.
    private struct Entry {
        enum Value: Equatable { case text(String), gguf(GGUFValue) }
        let value: Value
        let shown: String
    }

    private static func entries(_ metadata: [String: String]) -> [String: Entry] {
        var out: [String: Entry] = [:]
        for (key, value) in metadata {
            if key == GGUFModelMetadata.kvKey, let pairs = try? GGUFModelMetadata.pairs(metadata) {
                for p in pairs { out["\(key):\(p.key)"] = Entry(value: .gguf(p.value), shown: shown(p.value)) }
            } else {
                out[key] = Entry(value: .text(value), shown: Format.oneLine(value))
            }
        }
        return out
    }

    /// A GGUF value on one line: arrays as their length and element type (`[32000 strings]`),
    /// strings quoted and cut after 80 characters.
    static func shown(_ v: GGUFValue) -> String {
        switch v {
        case .array(let a): return "[\(a.count) \(a.elementType == .string ? "strings" : a.elementType.description)]"
        case .string(let s):
            let text = Format.oneLine(s.description)
            return text.count <= 80 ? "\"\(text)\"" : "\"\(text.prefix(77))...\" (\(s.bytes.count) bytes)"
        case .float32(let f): return "\(f)"
        case .float64(let d): return "\(d)"
        case .bool(let b): return "\(b)"
        default: return v.integerValue.map(String.init) ?? "\(v)"
        }
    }

    /// The metadata lines of the text report, at most `limit` keys listed.
    func metadataText(limit: Int = 40) -> String {
        guard !changes.isEmpty else { return "metadata: the same (\(keys) keys)\n" }
        let onlyA = changes.filter { $0.b == nil }.count, onlyB = changes.filter { $0.a == nil }.count
        var out = "metadata: \(changes.count) of \(keys) keys differ (\(onlyA) only in A, \(onlyB) only in B, "
            + "\(changes.count - onlyA - onlyB) changed)\n"
        for c in changes.prefix(limit) {
            switch (c.a, c.b) {
            case (let x?, nil): out += "  - \(c.key) = \(x)\n"
            case (nil, let y?): out += "  + \(c.key) = \(y)\n"
            default: out += "  ~ \(c.key): \(c.a ?? "") -> \(c.b ?? "")\n"
            }
        }
        if changes.count > limit { out += "  (+\(changes.count - limit) more; --json lists all)\n" }
        return out
    }

    /// The graph line of the text report (none when neither model has a graph).
    func graphText() -> String {
        func ops(_ counts: [String: Int]?) -> String {
            guard let counts else { return "no graph" }
            let nodes = counts.values.reduce(0, +)
            return "\(nodes) nodes (" + counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") + ")"
        }
        switch (opsA, opsB) {
        case (nil, nil): return ""
        case let (x, y) where x == y: return "graph: the same op counts, \(ops(x))\n"
        default: return "graph: A \(ops(opsA)), B \(ops(opsB))\n"
        }
    }

    /// The `metadata` and `graph` members of `diff --json`.
    func json() -> [(String, JSON)] {
        func ops(_ counts: [String: Int]?) -> JSON {
            counts.map { c in .object(c.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) }) } ?? .null
        }
        return [
            ("metadata", .array(changes.map { c in
                .object([("key", .string(c.key)), ("a", c.a.map(JSON.string) ?? .null), ("b", c.b.map(JSON.string) ?? .null)])
            })),
            ("graph_ops", .object([("a", ops(opsA)), ("b", ops(opsB))])),
        ]
    }
}
