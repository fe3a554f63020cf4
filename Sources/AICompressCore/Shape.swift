/// The dimensions of a tensor, outermost first. Rank 0 is a scalar with one element.
public struct Shape: Sendable, Hashable, CustomStringConvertible, ExpressibleByArrayLiteral {
    /// The dimensions; each is non-negative.
    public let dims: [Int]
    /// The product of the dimensions, checked for overflow at construction.
    public let elementCount: Int

    /// Creates a shape, checking every dimension and the element count.
    /// - Throws: `ModelError.negativeDimension` or `ModelError.shapeOverflow`.
    public init(_ dims: [Int]) throws(ModelError) {
        var count = 1
        for d in dims {
            guard d >= 0 else { throw .negativeDimension(dims) }
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw .shapeOverflow(dims) }
            count = p
        }
        self.dims = dims
        self.elementCount = count
    }

    /// Literal shapes are for code and tests; they trap on negative or overflowing literals.
    public init(arrayLiteral elements: Int...) {
        do { try self.init(elements) } catch { preconditionFailure("invalid shape literal \(elements)") }
    }

    public var rank: Int { dims.count }

    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }
}
