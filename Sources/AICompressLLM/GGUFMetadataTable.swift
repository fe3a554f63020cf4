import AICompressFormats

/// A model's GGUF metadata pairs by key, with typed look-ups that refuse a wrong type by key.
public struct GGUFMetadataTable: Sendable {
    /// The values by key.
    public let values: [String: GGUFValue]

    /// The table of `pairs` (a later duplicate key wins, as gguf-py reads them).
    public init(_ pairs: [GGUFKeyValue]) {
        var v = [String: GGUFValue]()
        for p in pairs { v[p.key] = p.value }
        values = v
    }

    /// The string at `key`, or nil when absent.
    /// - Throws: `LLMError.badKey` when the value is not a UTF-8 string.
    public func string(_ key: String) throws(LLMError) -> String? {
        guard let v = values[key] else { return nil }
        guard let s = v.stringValue else { throw .badKey(key: key, reason: "is a \(v.type), not a UTF-8 string") }
        return s
    }

    /// The integer at `key` (any integer type), or nil when absent.
    /// - Throws: `LLMError.badKey` for another type or a value outside `range`.
    public func integer(_ key: String, in range: ClosedRange<Int> = 0...Int(Int32.max)) throws(LLMError) -> Int? {
        guard let v = values[key] else { return nil }
        guard let i = v.integerValue else { throw .badKey(key: key, reason: "is a \(v.type), not an integer") }
        guard let n = Int(exactly: i), range.contains(n) else { throw .badKey(key: key, reason: "is \(i), outside \(range)") }
        return n
    }

    /// The float at `key` (f32, f64 or an integer), or nil when absent.
    /// - Throws: `LLMError.badKey` for another type or a non-finite value.
    public func float(_ key: String) throws(LLMError) -> Float? {
        guard let v = values[key] else { return nil }
        let f: Float
        switch v {
        case .float32(let x): f = x
        case .float64(let x): f = Float(x)
        default:
            guard let i = v.integerValue else { throw .badKey(key: key, reason: "is a \(v.type), not a number") }
            f = Float(i)
        }
        guard f.isFinite else { throw .badKey(key: key, reason: "is \(f)") }
        return f
    }

    /// The bool at `key`, or nil when absent.
    /// - Throws: `LLMError.badKey` for another type.
    public func bool(_ key: String) throws(LLMError) -> Bool? {
        guard let v = values[key] else { return nil }
        guard case .bool(let b) = v else { throw .badKey(key: key, reason: "is a \(v.type), not a bool") }
        return b
    }

    /// The array at `key`, or nil when absent.
    /// - Throws: `LLMError.badKey` for another type.
    public func array(_ key: String) throws(LLMError) -> GGUFArray? {
        guard let v = values[key] else { return nil }
        guard case .array(let a) = v else { throw .badKey(key: key, reason: "is a \(v.type), not an array") }
        return a
    }

    /// A required value: `get(key)` or `LLMError.missingKey`.
    public func required<T>(_ key: String, _ get: (String) throws(LLMError) -> T?) throws(LLMError) -> T {
        guard let v = try get(key) else { throw .missingKey(key) }
        return v
    }
}
