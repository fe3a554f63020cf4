import AICompressCore
import Dispatch

/// Runs a streaming format writer on a background queue while the next tensor is computed; at
/// most two finished tensors wait, so memory stays bounded. The first write error is reported
/// by the next call.
final class BackgroundWriter: @unchecked Sendable {
    // `writer` and `failure` are only touched on `queue`.
    private let writer: any FormatWriter
    private var failure: Error?
    private let queue = DispatchQueue(label: "aicompress.writer")
    private let slots = DispatchSemaphore(value: 2)

    init(_ writer: any FormatWriter) {
        self.writer = writer
    }

    /// Queues `tensor` for writing; `input` (the tensor it came from) has its mapped pages
    /// dropped once written.
    func append(_ tensor: Tensor, thenDrop input: TensorData?) throws {
        try pendingFailure()
        slots.wait()
        queue.async {
            if self.failure == nil {
                do { try self.writer.append(tensor, releasing: nil) } catch { self.failure = error }
            }
            input?.dropPages()
            self.slots.signal()
        }
    }

    private func pendingFailure() throws {
        let f: Error? = queue.sync { self.failure }
        if let f { throw f }
    }

    /// Waits for the queued tensors and writes the rest of the file (index, footer).
    func finish(metadata: [String: String], graph: Graph?) throws {
        try pendingFailure()
        let result: Result<Void, Error> = queue.sync {
            Result { try self.writer.finish(metadata: metadata, graph: graph) }
        }
        try result.get()
    }
}
