@testable import AICompressCore

/// The scalar helpers the reference twins (GGMLReferenceTwin, GGMLWeightedTwin) share, on top of
/// the library's GGMLScalar: rounding to the nearest integer, fp16 bits and value, little-endian u16.
enum GGMLTwinScalar {
    static func nearestInt(_ f: Float) -> Int { Int(GGMLScalar.nearestInt(f)) }
    static func half(_ f: Float) -> (bits: UInt16, value: Float) {
        let b = GGMLScalar.fp16Bits(f)
        return (b, GGMLScalar.fp16ToFloat(b))
    }
    static func append16(_ out: inout [UInt8], _ bits: UInt16) {
        out.append(UInt8(bits & 0xFF))
        out.append(UInt8(bits >> 8))
    }
}
