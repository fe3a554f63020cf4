import AICompressCore

/// The q/k row permutation between Hugging Face's rotary layout and llama.cpp's.
///
/// Hugging Face's LLaMA rotates halves (`rotate_half`): within each head of `d` rows, row `i`
/// pairs with row `i + d/2`. llama.cpp's `llama` architecture rotates adjacent pairs (rows `2i`,
/// `2i+1`). So within each head, output row `2i + j` is input row `j·d/2 + i` (j ∈ {0, 1}) — the
/// converter's `permute` (reshape to [heads, 2, d/2, …], swap axes 1 and 2). Rows are whole
/// (a row of a `[out, in]` weight, one value of a bias), so the permutation moves row bytes and
/// commutes with any row-wise quantization: the GGUF writer applies it when it copies the
/// tensor out, and quantizing before or after gives the same bytes.
public enum HFLlamaPermutation {
    /// Model metadata key listing the tensors to permute (`name=heads` pairs, comma separated);
    /// the GGUF writer consumes it and never writes it.
    public static let metadataKey = "gguf.hf_rope_permute"

    /// The input row that lands in output row `row` of a tensor of `rows` rows in `heads` heads.
    /// `rows` must be a multiple of `2·heads`.
    public static func sourceRow(_ row: Int, rows: Int, heads: Int) -> Int {
        let d = rows / heads
        let h = row / d, within = row % d
        return h * d + (within % 2) * (d / 2) + within / 2
    }

    /// `data` (a tensor of `rows` equal rows) with its rows permuted.
    /// - Throws: `GGUFError.unrepresentable` when the rows do not split into `heads` even heads
    ///   or the bytes into `rows` rows.
    public static func permuted(_ data: TensorData, tensor: String, rows: Int, heads: Int) throws(GGUFError) -> TensorData {
        guard heads > 0, rows > 0, rows % (2 * heads) == 0, data.count > 0, data.count % rows == 0 else {
            throw .unrepresentable("tensor '\(tensor)': \(rows) rows of \(data.count) bytes do not split into \(heads) rotary heads of an even size")
        }
        let rowBytes = data.count / rows
        var out = [UInt8](repeating: 0, count: data.count)
        data.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                for r in 0..<rows {
                    let s = sourceRow(r, rows: rows, heads: heads)
                    dst.baseAddress!.advanced(by: r * rowBytes).copyMemory(from: src.baseAddress!.advanced(by: s * rowBytes), byteCount: rowBytes)
                }
            }
        }
        return TensorData(bytes: out)
    }

    /// The metadata value for `heads` by tensor name (sorted, so the text is deterministic).
    public static func encode(_ heads: [String: Int]) -> String {
        heads.keys.sorted().map { "\($0)=\(heads[$0] ?? 0)" }.joined(separator: ",")
    }

    /// The tensors to permute named by `metadata`, and the metadata without the key.
    /// - Throws: `GGUFError.unrepresentable` for a malformed value.
    static func take(from metadata: [String: String]) throws(GGUFError) -> (heads: [String: Int], rest: [String: String]) {
        guard let text = metadata[metadataKey] else { return ([:], metadata) }
        var rest = metadata
        rest[metadataKey] = nil
        var heads = [String: Int]()
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=")
            guard parts.count == 2, let n = Int(parts[1]), n > 0 else {
                throw .unrepresentable("metadata '\(metadataKey)' holds '\(item)', not NAME=HEADS")
            }
            heads[String(parts[0])] = n
        }
        return (heads, rest)
    }
}
