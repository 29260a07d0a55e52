import Foundation
import NTKLinearAlgebra
import NTKFormats

extension DatasetLoaders {
    /// A data set from NumPy arrays: `inputs` of shape [n, …] (the trailing dimensions are
    /// the input shape of one example; a 1-d array is n scalars), and at least one of
    /// `labels` (shape [n], non-negative integers; targets become one-hot over `classCount`,
    /// default max label + 1) and `targets` (shape [n] or [n, k], regression values).
    /// Every array must be finite.
    public static func npy<Scalar: BLASScalar>(
        inputs: URL, labels: URL? = nil, targets: URL? = nil, classCount: Int? = nil,
        name: String = "npy", as _: Scalar.Type = Scalar.self
    ) throws(DatasetError) -> Dataset<Scalar> {
        guard labels != nil || targets != nil else {
            throw .invalidArgument(name: "labels/targets", value: "none", expected: "a labels or a targets file")
        }
        let xArray = try readNPY(inputs)
        guard let n = xArray.shape.first else {
            throw .malformed(file: inputs.path, reason: "inputs are a 0-d array (expected shape [n, …])")
        }
        let x: Matrix<Scalar> = try convert(xArray)
        let exampleShape = xArray.shape.count == 1 ? [1] : Array(xArray.shape.dropFirst())

        var classLabels: [Int]?
        var count: Int?
        if let labels {
            let array = try readNPY(labels)
            guard array.shape.count == 1, array.shape[0] == n else {
                throw .inconsistent(
                    dataset: name, reason: "\(labels.path) has shape \(array.shape), expected [\(n)] labels")
            }
            var values: [Int] = []
            for (i, v) in array.values.enumerated() {
                guard v >= 0, v == v.rounded(), v < Double(Int32.max) else {
                    throw .malformed(
                        file: labels.path, reason: "label \(v) of example \(i) is not a non-negative integer")
                }
                values.append(Int(v))
            }
            let k = classCount ?? ((values.max() ?? 0) + 1)
            classLabels = values
            count = k
        }
        var y: Matrix<Scalar>
        if let targets {
            let array = try readNPY(targets)
            guard array.shape.first == n, array.shape.count <= 2 else {
                throw .inconsistent(
                    dataset: name, reason: "\(targets.path) has shape \(array.shape), expected [\(n)] or [\(n), k]")
            }
            y = try convert(array)
        } else {
            var oneHot = Matrix<Scalar>(rows: n, columns: count ?? 1)
            for (i, label) in (classLabels ?? []).enumerated() {
                guard label < oneHot.columns else {
                    throw .labelOutOfRange(file: labels?.path ?? name, index: i, label: label, classCount: oneHot.columns)
                }
                oneHot[i, label] = 1
            }
            y = oneHot
        }
        return try Dataset(
            name: name, inputs: x, inputShape: exampleShape, targets: y, labels: classLabels,
            classCount: count)
    }

    private static func readNPY(_ url: URL) throws(DatasetError) -> NPYArray {
        do throws(NPYError) {
            return try NPY.read(url, requireFinite: true)
        } catch {
            throw .npy(error)
        }
    }

    private static func convert<Scalar: BLASScalar>(_ array: NPYArray) throws(DatasetError) -> Matrix<Scalar> {
        do throws(NPYError) {
            return try array.matrix()
        } catch {
            throw .npy(error)
        }
    }
}
