import CCRC32
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import AICompressCore

/// CRC-32 (ISO-HDLC, zlib's) — the only file that talks to zlib. Bulk checksums fold 64 bytes
/// at a time with PCLMULQDQ where the CPU has it (Sources/CCRC32), equal to zlib's by test.
public enum CRC32 {
    /// The CRC-32 of `bytes`, continuing from `initial` (0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return initial }
        return aic_crc32(initial, base.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    /// The CRC-32 of `[UInt8]`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// The CRC of A followed by B, from the CRCs of A and B and the length of B.
    public static func combine(_ crcA: UInt32, _ crcB: UInt32, lengthB: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: crc32_combine(UInt(crcA), UInt(crcB), off_t(lengthB)))
    }

    /// Bytes per parallel work item: large enough to amortise scheduling, small enough to split
    /// a single big tensor over the cores.
    public static let parallelChunk = 8 << 20

    /// At most this many bytes in all are summed on the calling thread (about 0.1 ms of CRC).
    static let serialLimit = 1 << 20

    /// Bytes read at once by `readChecksum`: they stay in the core's cache for the CRC.
    static let readBlock = 256 << 10

    /// The CRC-32 of `count` bytes of the file `fd` from `offset`, read with `pread` through a
    /// small buffer; nil (fall back to the mapping) when the file cannot give them all. For a
    /// file that is mapped anyway this is cheaper than summing the mapping: no page is mapped
    /// into the process (nothing to fault in, then to drop again), and each block is summed
    /// while it is in cache. The bytes are the mapping's: the file is mapped read-only.
    static func readChecksum(_ fd: Int32, offset: Int, count: Int) -> UInt32? {
        let block = UnsafeMutableRawPointer.allocate(byteCount: min(count, readBlock), alignment: 64)
        defer { block.deallocate() }
        var crc: UInt32 = 0
        var done = 0
        while done < count {
            let n = pread(fd, block, min(readBlock, count - done), off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            crc = checksum(UnsafeRawBufferPointer(start: block, count: n), initial: crc)
            done += n
        }
        return crc
    }

    /// CRC-32s of many byte ranges at once, spread over the cores; large ranges are split into
    /// chunks whose CRCs are combined in order, so the result equals the sequential one.
    /// - Parameter releasing: the mapped file the ranges lie in, if they do: a chunk is read from
    ///   the file's descriptor when the mapping keeps one (`readChecksum`), else summed in the
    ///   mapping and its pages dropped once summed, so checking a model never makes it all resident.
    public static func checksums(_ ranges: [UnsafeRawBufferPointer], releasing mapping: ByteBuffer? = nil) -> [UInt32] {
        struct Item { let range: Int; let start: Int; let count: Int }
        var items: [Item] = []
        for (r, buffer) in ranges.enumerated() {
            var start = 0
            repeat {
                let n = min(parallelChunk, buffer.count - start)
                items.append(Item(range: r, start: start, count: n))
                start += n
            } while start < buffer.count
        }
        func sum(_ i: Int) -> UInt32 {
            let item = items[i]
            let buffer = ranges[item.range]
            guard item.count > 0 else { return 0 }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[item.start..<(item.start + item.count)])
            guard let mapping, let base = mapping.baseAddress, let start = chunk.baseAddress,
                  start >= base, start + chunk.count <= base + mapping.count else { return checksum(chunk) }
            if let fd = mapping.fileDescriptor, let crc = readChecksum(fd, offset: start - base, count: chunk.count) {
                return crc
            }
            let crc = checksum(chunk)
            mapping.dropPages((start - base)..<(start - base + chunk.count))
            return crc
        }
        // A small total is summed on this thread: starting the worker threads costs more than
        // the sums (inspect of a 10 KB checkpoint started two for its five ranges).
        let total = ranges.reduce(0) { $0 + $1.count }
        let results = total <= serialLimit ? items.indices.map(sum) : Parallel.map(items.count, sum)
        var out = [UInt32](repeating: 0, count: ranges.count)
        var first = [Bool](repeating: true, count: ranges.count)
        for (i, item) in items.enumerated() {
            if first[item.range] {
                out[item.range] = results[i]
                first[item.range] = false
            } else {
                out[item.range] = combine(out[item.range], results[i], lengthB: item.count)
            }
        }
        return out
    }
}
