/// The element type of a tensor, with the codes of the checkpoint format (spec §4.3).
public enum DType: UInt8, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case f32 = 1
    case f16 = 2
    case bf16 = 3
    case f64 = 4
    case i8 = 5
    case u8 = 6
    case i16 = 7
    case i32 = 8
    case i64 = 9
    case bool = 10
    /// Signed 4-bit integers, two per byte, element 2k in the low nibble.
    case i4 = 11
    /// Unsigned 4-bit integers, two per byte, element 2k in the low nibble.
    case u4 = 12
    case u16 = 13
    case u32 = 14
    case u64 = 15

    /// Storage bits of one element.
    public var bits: Int {
        switch self {
        case .i4, .u4: return 4
        case .i8, .u8, .bool: return 8
        case .f16, .bf16, .i16, .u16: return 16
        case .f32, .i32, .u32: return 32
        case .f64, .i64, .u64: return 64
        }
    }

    /// True for the floating-point types.
    public var isFloatingPoint: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64: return true
        default: return false
        }
    }

    /// The lower-case name used in the spec, the CLI and JSON output.
    public var name: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .bf16: return "bf16"
        case .f64: return "f64"
        case .i8: return "i8"
        case .u8: return "u8"
        case .i16: return "i16"
        case .i32: return "i32"
        case .i64: return "i64"
        case .bool: return "bool"
        case .i4: return "i4"
        case .u4: return "u4"
        case .u16: return "u16"
        case .u32: return "u32"
        case .u64: return "u64"
        }
    }

    public var description: String { name }

    /// Looks a type up by its spec name (`"f32"`, `"bf16"`, …).
    public init?(name: String) {
        guard let match = DType.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// Bytes needed to store `count` dense elements, or nil on overflow.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0 else { return nil }
        if bits == 4 {
            let (padded, overflow) = count.addingReportingOverflow(1)
            return overflow ? nil : padded / 2
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: bits / 8)
        return overflow ? nil : bytes
    }
}
