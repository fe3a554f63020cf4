/// Value names not yet used in a graph, for the nodes and initializers the writer adds: `base`,
/// else `base_1`, `base_2`, …
struct ONNXNames {
    /// Names already in use.
    var taken: Set<String>

    /// A name starting with `base` that is not taken, now taken.
    mutating func fresh(_ base: String) -> String {
        var name = base
        var k = 1
        while taken.contains(name) {
            name = "\(base)_\(k)"
            k += 1
        }
        taken.insert(name)
        return name
    }
}
