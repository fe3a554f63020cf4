import AICompressPasses
import Foundation

/// The tensor reports a calibrated method (AWQ) makes while the calibration runs, read when
/// the file is written (`GGUFQuantize.withCalibration(_:_:reports:)`).
final class CalibratedReportStore: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [String: TensorReport] = [:]

    func set(_ name: String, _ report: TensorReport) {
        lock.lock()
        defer { lock.unlock() }
        reports[name] = report
    }

    func get(_ name: String) -> TensorReport? {
        lock.lock()
        defer { lock.unlock() }
        return reports[name]
    }
}
