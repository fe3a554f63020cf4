import Foundation

/// Progress of long work on stderr — only when stderr is a terminal (never in pipes, logs or
/// tests) and not `--quiet`: tensors done, bytes per second, time left, redrawn at most 5 times
/// a second on one line, erased when done.
final class Progress {
    private let enabled: Bool
    private let total: Int
    private let totalBytes: Int
    private let label: String
    private var done = 0
    private var bytes = 0
    private let start = Date()
    private var lastDraw = Date.distantPast

    init(label: String, tensors: Int, bytes: Int, quiet: Bool) {
        self.enabled = !quiet && FileHandleOutput.stderrIsInteractive
        self.total = tensors
        self.totalBytes = bytes
        self.label = label
    }

    /// One more tensor of `size` bytes is done.
    func advance(bytes size: Int) {
        guard enabled else { return }
        done += 1
        bytes += size
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.2 || done == total else { return }
        lastDraw = now
        let elapsed = max(now.timeIntervalSince(start), 1e-3)
        let rate = Double(bytes) / elapsed
        let left = rate > 0 ? Double(totalBytes - bytes) / rate : 0
        let line = String(format: "%@: %d/%d tensors, %@/s, %.0f s left", label, done, total,
                          Format.shortBytes(Int(rate)), left)
        FileHandleOutput.stderr("\r\u{1B}[K" + line)
    }

    /// Progress by bytes written so far (for work that is not tensor by tensor, like convert).
    func written(_ total: Int) {
        guard enabled else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.2 else { return }
        lastDraw = now
        done = max(done, 1)
        let elapsed = max(now.timeIntervalSince(start), 1e-3)
        let rate = Double(total) / elapsed
        let left = rate > 0 ? max(Double(totalBytes - total), 0) / rate : 0
        let line = String(format: "%@: %@ of about %@ written, %@/s, %.0f s left", label, Format.shortBytes(total),
                          Format.shortBytes(totalBytes), Format.shortBytes(Int(rate)), left)
        FileHandleOutput.stderr("\r\u{1B}[K" + line)
    }

    /// Erases the line.
    func finish() {
        guard enabled, done > 0 else { return }
        FileHandleOutput.stderr("\r\u{1B}[K")
    }
}
