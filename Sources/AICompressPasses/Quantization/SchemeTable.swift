import AICompressCore

extension QuantizationScheme: CaseIterable, RawRepresentable {
    /// Every scheme, in the order of `quantize --help` and `quantize --list`. A new scheme is its
    /// record (one file in Schemes/) and one line here.
    public static let all: [QuantizationScheme] = [
        .int8,
        .uint8,
        .int4,
        .uint4,
        .fp16,
        .bf16,
    ]

    /// `all`, for ArgumentParser's flags.
    public static var allCases: [QuantizationScheme] { all }

    /// The scheme with flag name `rawValue`.
    public init?(rawValue: String) {
        guard let s = QuantizationScheme.all.first(where: { $0.id == rawValue }) else { return nil }
        self = s
    }

    /// The flag name.
    public var rawValue: String { id }
}
