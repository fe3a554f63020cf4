/// The type codes of GGUF metadata values (gguf.md `gguf_metadata_value_type`).
public enum GGUFValueType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of one value of a fixed-size type; nil for string and array.
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The fewest bytes one value of this type takes in a file (a string's length, an array's
    /// element type and count).
    var minimumSize: Int {
        switch self {
        case .string: return 8
        case .array: return 12
        default: return fixedSize ?? 1
        }
    }

    /// gguf-py's name (`UINT32`, `STRING`, …).
    public var description: String {
        let names = ["UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY",
                     "UINT64", "INT64", "FLOAT64"]
        return names[Int(rawValue)]
    }
}

/// A GGUF string: bytes as stored (GGUF requires UTF-8 but files in the wild do not always
/// comply, and a round trip must keep the bytes).
public struct GGUFString: Sendable, Hashable, CustomStringConvertible {
    /// The stored bytes, no terminator.
    public let bytes: [UInt8]
    /// A string from stored bytes.
    public init(bytes: [UInt8]) { self.bytes = bytes }
    /// A string from Swift text (UTF-8).
    public init(_ text: String) { self.bytes = Array(text.utf8) }
    /// The text, or nil when the bytes are not valid UTF-8.
    public var string: String? { String(validating: bytes, as: UTF8.self) }
    public var description: String { string ?? String(decoding: bytes, as: UTF8.self) }
}

/// One GGUF metadata value.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(GGUFString), array(GGUFArray)
    case uint64(UInt64), int64(Int64), float64(Double)

    /// A string value from Swift text.
    public static func text(_ s: String) -> GGUFValue { .string(GGUFString(s)) }

    /// The value's type code.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    /// The text of a string value.
    public var stringValue: String? {
        if case .string(let s) = self { return s.string }
        return nil
    }

    /// Any integer value as Int64 (nil for other types or a u64 above Int64.max).
    public var integerValue: Int64? {
        switch self {
        case .uint8(let v): return Int64(v)
        case .int8(let v): return Int64(v)
        case .uint16(let v): return Int64(v)
        case .int16(let v): return Int64(v)
        case .uint32(let v): return Int64(v)
        case .int32(let v): return Int64(v)
        case .uint64(let v): return Int64(exactly: v)
        case .int64(let v): return v
        default: return nil
        }
    }
}

/// One metadata pair, in file order.
public struct GGUFKeyValue: Sendable, Equatable {
    /// The key (`general.architecture`, `tokenizer.ggml.tokens`, …).
    public let key: String
    /// The value.
    public let value: GGUFValue
    /// A pair.
    public init(_ key: String, _ value: GGUFValue) {
        self.key = key
        self.value = value
    }
}

/// A GGUF array: an element type and its elements. Scalar elements stay in their little-endian
/// file bytes (one copy, no per-element boxes), strings and nested arrays are decoded.
public struct GGUFArray: Sendable, Equatable {
    enum Storage: Sendable, Equatable {
        case scalars([UInt8])
        case strings([GGUFString])
        case arrays([GGUFArray])
    }

    /// The type of every element.
    public let elementType: GGUFValueType
    /// Number of elements.
    public let count: Int
    let storage: Storage

    init(elementType: GGUFValueType, count: Int, storage: Storage) {
        self.elementType = elementType
        self.count = count
        self.storage = storage
    }

    /// An array of string elements.
    public init(strings: [String]) {
        self.init(elementType: .string, count: strings.count, storage: .strings(strings.map(GGUFString.init)))
    }

    /// An array of the given values, all of `elementType`.
    /// - Throws: `GGUFError.unrepresentable` when a value has another type.
    public init(_ elementType: GGUFValueType, _ values: [GGUFValue]) throws(GGUFError) {
        guard let bad = values.first(where: { $0.type != elementType }) else {
            switch elementType {
            case .string:
                self.init(elementType: .string, count: values.count, storage: .strings(values.compactMap {
                    if case .string(let s) = $0 { return s } else { return nil }
                }))
            case .array:
                self.init(elementType: .array, count: values.count, storage: .arrays(values.compactMap {
                    if case .array(let a) = $0 { return a } else { return nil }
                }))
            default:
                var bytes = [UInt8]()
                for v in values { GGUFEncoding.appendScalar(v, to: &bytes) }
                self.init(elementType: elementType, count: values.count, storage: .scalars(bytes))
            }
            return
        }
        throw .unrepresentable("an array of \(elementType) holds a \(bad.type) value")
    }

    /// Element `i` as a value.
    public subscript(i: Int) -> GGUFValue {
        switch storage {
        case .strings(let s): return .string(s[i])
        case .arrays(let a): return .array(a[i])
        case .scalars(let bytes):
            let size = elementType.fixedSize ?? 1
            return bytes.withUnsafeBytes { GGUFEncoding.scalar(elementType, UnsafeRawBufferPointer(rebasing: $0[(i * size)..<((i + 1) * size)])) }
        }
    }

    /// Every element as a value.
    public var values: [GGUFValue] { (0..<count).map { self[$0] } }

    /// The elements as text, for an array of strings.
    public var strings: [String]? {
        guard case .strings(let s) = storage else { return nil }
        return s.map(\.description)
    }
}
