import AICompressCore

/// A narrower binary float format a cast scheme stores: its dtype, its IEEE-style field widths
/// (from which `FloatCastReference` derives every representable value on its own) and its ONNX
/// element type (the Cast nodes put back in front of its consumers convert from it).
public struct FloatFormat: Sendable, Equatable {
    /// The stored dtype.
    public let dtype: DType
    /// Exponent field width in bits.
    public let exponentBits: Int
    /// Fraction field width in bits (without the implicit leading 1).
    public let mantissaBits: Int
    /// ONNX TensorProto.DataType code of the format.
    public let onnxElementType: Int32

    /// A format with the given fields.
    public init(dtype: DType, exponentBits: Int, mantissaBits: Int, onnxElementType: Int32) {
        self.dtype = dtype
        self.exponentBits = exponentBits
        self.mantissaBits = mantissaBits
        self.onnxElementType = onnxElementType
    }
}
