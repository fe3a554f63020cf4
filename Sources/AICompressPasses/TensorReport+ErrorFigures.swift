import AICompressCore

extension TensorReport {
    /// A report whose error fields come from `figures` (elements included).
    public init(name: String, scheme: String, bytesBefore: Int, bytesAfter: Int, figures: ErrorFigures) {
        self.init(name: name, scheme: scheme, bytesBefore: bytesBefore, bytesAfter: bytesAfter, elements: figures.elements,
                  signalEnergy: figures.signal, errorEnergy: figures.error, maxAbsError: figures.maxAbs,
                  zerosAfter: figures.zerosAfter)
    }

    /// The report's error fields as `ErrorFigures`.
    public var figures: ErrorFigures {
        get {
            ErrorFigures(signal: signalEnergy, error: errorEnergy, maxAbs: maxAbsError, zerosAfter: zerosAfter, elements: elements)
        }
        set {
            signalEnergy = newValue.signal
            errorEnergy = newValue.error
            maxAbsError = newValue.maxAbs
            zerosAfter = newValue.zerosAfter
            elements = newValue.elements
        }
    }
}
