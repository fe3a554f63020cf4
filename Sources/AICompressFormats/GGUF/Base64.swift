/// RFC 4648 base64 with padding, for binary metadata carried in string metadata (`gguf.kv`).
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let values: [Int8] = {
        var v = [Int8](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { v[Int(c)] = Int8(i) }
        return v
    }()

    /// The base64 text of `bytes`.
    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            let b0 = UInt32(bytes[i]), b1 = n > 1 ? UInt32(bytes[i + 1]) : 0, b2 = n > 2 ? UInt32(bytes[i + 2]) : 0
            let w = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(w >> 18 & 63)])
            out.append(alphabet[Int(w >> 12 & 63)])
            out.append(n > 1 ? alphabet[Int(w >> 6 & 63)] : UInt8(ascii: "="))
            out.append(n > 2 ? alphabet[Int(w & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of padded base64 `text`, or nil when it is not exactly that.
    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 4 * 3)
        var i = 0
        while i < chars.count {
            let pad = (chars[i + 3] == UInt8(ascii: "=") ? 1 : 0) + (chars[i + 2] == UInt8(ascii: "=") ? 1 : 0)
            guard pad == 0 || i + 4 == chars.count, pad < 2 || chars[i + 3] == UInt8(ascii: "=") else { return nil }
            var w: UInt32 = 0
            for k in 0..<(4 - pad) {
                let v = values[Int(chars[i + k])]
                guard v >= 0 else { return nil }
                w |= UInt32(v) << (18 - 6 * k)
            }
            out.append(UInt8(w >> 16 & 0xFF))
            if pad < 2 { out.append(UInt8(w >> 8 & 0xFF)) }
            if pad < 1 { out.append(UInt8(w & 0xFF)) }
            i += 4
        }
        return out
    }
}
