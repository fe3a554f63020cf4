/// NumPy .npz archives (what `np.savez` writes): a zip of .npy members, one array per name.
/// Read strictly from the central directory: every member must be stored (not compressed),
/// named `NAME.npy`, lie inside the file, and hold a valid .npy array; ZIP64 sizes are read
/// from their extra field.
public enum NPZ {
    /// Members an archive may list (a hostile directory is refused before anything is read).
    public static let maxMembers = 4096

    /// Whether `b` starts like a zip archive (a local file header).
    public static func sniff(_ b: UnsafeRawBufferPointer) -> Bool {
        b.count >= 4 && b[0] == 0x50 && b[1] == 0x4B && b[2] == 0x03 && b[3] == 0x04
    }

    /// The arrays of an .npz archive, by member name without `.npy`, in directory order.
    public static func read(_ b: UnsafeRawBufferPointer, file: String) throws(DataError) -> [(name: String, array: NDArray)] {
        func fail(_ m: String) -> DataError { DataError(file: file, "not a valid .npz archive: \(m)") }
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) -> Int? {
            let v = UInt64(u32(o)) | UInt64(u32(o + 4)) << 32
            return v <= UInt64(Int.max) ? Int(v) : nil
        }
        // end of central directory: the last signature within the final 64 KiB + 22 bytes
        guard b.count >= 22 else { throw fail("shorter than an end-of-directory record") }
        var eocd = -1
        var o = b.count - 22
        let lowest = max(0, b.count - 22 - 0xFFFF)
        while o >= lowest {
            if u32(o) == 0x0605_4B50 { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record") }
        let entries = u16(eocd + 10)
        var cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16)
        var total = entries
        if cdOffset == 0xFFFF_FFFF || entries == 0xFFFF {  // ZIP64 end record, located just before
            let loc = eocd - 20
            guard loc >= 0, u32(loc) == 0x0706_4B50, let rec = u64(loc + 8), rec >= 0, rec <= b.count - 56,
                  u32(rec) == 0x0606_4B50, let n = u64(rec + 32), let size = u64(rec + 40), let off = u64(rec + 48) else {
                throw fail("damaged ZIP64 end record")
            }
            total = n; cdSize = size; cdOffset = off
        }
        guard total <= maxMembers else { throw fail("\(total) members exceed the limit of \(maxMembers)") }
        guard cdOffset <= b.count, cdSize <= b.count - cdOffset else { throw fail("central directory lies outside the file") }
        var out = [(name: String, array: NDArray)]()
        var p = cdOffset
        let cdEnd = cdOffset + cdSize
        for _ in 0..<total {
            guard p + 46 <= cdEnd, u32(p) == 0x0201_4B50 else { throw fail("central directory entry at offset \(p) is damaged") }
            let method = u16(p + 10), flags = u16(p + 8)
            var compressed = u32(p + 20), size = u32(p + 24), local = u32(p + 42)
            let nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32)
            guard p + 46 + nameLen + extraLen + commentLen <= cdEnd else { throw fail("central directory entry at offset \(p) overruns the directory") }
            let nameBytes = UnsafeRawBufferPointer(rebasing: b[(p + 46)..<(p + 46 + nameLen)])
            let member = String(decoding: nameBytes, as: UTF8.self)
            // ZIP64 extra field: the 0xFFFFFFFF fields, in order size, compressed size, offset
            var e = p + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = u16(e), len = u16(e + 2)
                guard e + 4 + len <= extraEnd else { throw fail("member '\(member)': damaged extra field") }
                if id == 0x0001 {
                    var f = e + 4
                    func next() throws(DataError) -> Int {
                        guard f + 8 <= e + 4 + len, let v = u64(f) else { throw fail("member '\(member)': damaged ZIP64 field") }
                        f += 8
                        return v
                    }
                    if size == 0xFFFF_FFFF { size = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if local == 0xFFFF_FFFF { local = try next() }
                }
                e += 4 + len
            }
            p += 46 + nameLen + extraLen + commentLen
            guard flags & 1 == 0 else { throw fail("member '\(member)' is encrypted") }
            guard method == 0 else {
                throw DataError(file: file, "member '\(member)' is compressed (method \(method)); only stored members are read: save with np.savez, not np.savez_compressed")
            }
            guard compressed == size else { throw fail("member '\(member)': stored size \(compressed) differs from its size \(size)") }
            guard member.hasSuffix(".npy"), member.count > 4 else { throw fail("member '\(member)' is not an .npy file") }
            guard local <= b.count - 30, u32(local) == 0x0403_4B50 else { throw fail("member '\(member)': no local header at offset \(local)") }
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            guard start <= b.count, size <= b.count - start else { throw fail("member '\(member)' lies outside the file") }
            let name = String(member.dropLast(4))
            guard !out.contains(where: { $0.name == name }) else { throw fail("member '\(member)' appears twice") }
            let array = try NPY.array(UnsafeRawBufferPointer(rebasing: b[start..<(start + size)]), file: "\(file):\(member)")
            out.append((name, array))
        }
        return out
    }
}
