import AICompressCore

/// Attribute and input edits the version converter makes to nodes.
extension Node {
    /// The integer attribute `name`, if the node has one.
    func int(_ name: String) -> Int64? {
        if case .int(let v) = attribute(name) { return v }
        return nil
    }

    /// The integer-list attribute `name`, if the node has one.
    func ints(_ name: String) -> [Int64]? {
        if case .ints(let v) = attribute(name) { return v }
        return nil
    }

    /// The float attribute `name`, if the node has one.
    func float(_ name: String) -> Float? {
        if case .float(let v) = attribute(name) { return v }
        return nil
    }

    /// Removes the attributes called `names`.
    mutating func remove(_ names: String...) {
        attributes.removeAll { names.contains($0.name) }
    }

    /// Sets (or replaces) attribute `name`.
    mutating func set(_ name: String, _ value: AttributeValue) {
        remove(name)
        attributes.append(Attribute(name: name, value: value))
    }

    /// Sets optional input `index` (padding skipped inputs with empty names).
    mutating func setInput(_ index: Int, _ name: String) {
        while inputs.count <= index { inputs.append("") }
        inputs[index] = name
    }
}
