import AICompressCore
import AICompressFormats
import Foundation

/// The documented exit codes (sysexits.h values) and the mapping of library errors onto them.
struct ExitStatus {
    static let usage: Int32 = 64
    static let dataError: Int32 = 65
    static let noInput: Int32 = 66
    static let software: Int32 = 70
    static let cannotCreate: Int32 = 73
    static let ioError: Int32 = 74

    let code: Int32
    let message: String

    /// A failure a command raises itself, with its code and message.
    struct Failure: Error {
        let code: Int32
        let message: String
    }

    /// The status for a library error, or nil for errors the argument parser reports itself.
    init?(_ error: Error) {
        // Every library error type adopts DataFault; its kind picks the code.
        guard let e = error as? any DataFault else { return nil }
        message = e.description
        switch e.faultKind {
        case .usage: code = ExitStatus.usage
        case .data: code = ExitStatus.dataError
        case .noInput: code = ExitStatus.noInput
        case .cannotCreate: code = ExitStatus.cannotCreate
        case .io: code = ExitStatus.ioError
        }
    }
}
