import NTKLinearAlgebra

extension Network: CustomStringConvertible {
    /// A table of the top-level layers: index, type, output shape and parameter count.
    public var description: String {
        var lines = ["Network<\(Scalar.precisionName)> input \(inputShape) → output \(outputShape), P = \(parameterCount)"]
        for (k, layer) in layers.enumerated() {
            var name = String(describing: type(of: layer))
            if let bracket = name.firstIndex(of: "<") { name = String(name[..<bracket]) }
            if let activation = layer as? Activation<Scalar> { name += "(\(activation.function.rawValue))" }
            lines.append("  \(k): \(name) → \(layer.outputShape), \(layer.parameterCount) parameters")
        }
        return lines.joined(separator: "\n")
    }
}
