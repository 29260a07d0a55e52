import Foundation
import NTKDatasets
import NTKLinearAlgebra

/// The Auto MPG regression set exactly as the collective-variables authors prepare it (ZnNL's
/// "Computing collective variables" notebook): the 392 complete rows; `origin` one-hot as
/// Europe, Japan, USA (pandas `get_dummies` after mapping 1/2/3 to USA/Europe/Japan: sorted
/// column names, appended last); every column of that frame, the target mpg included,
/// standardized by its mean and sample standard deviation (pandas `std`, ddof = 1) over all 392
/// rows; the training rows `RandomState(0).permutation(392)[:314]` in that order (pandas
/// `sample(frac: 0.8, random_state: 0)`), the test rows the other 78 in file order.
///
/// Inputs (9): cylinders, displacement, horsepower, weight, acceleration, year, Europe, Japan,
/// USA. Target (1): standardized mpg.
struct AutoMPG {
    static let featureNames = ["cylinders", "displacement", "horsepower", "weight", "acceleration", "year",
                               "Europe", "Japan", "USA"]
    let train: Dataset<Double>
    let test: Dataset<Double>
    /// Mean and sample standard deviation of mpg (to read losses in miles per gallon).
    let mpgMean: Double
    /// The file rows (0-based, header excluded) of the training set, in training-set order.
    let trainRows: [Int]
    let mpgStandardDeviation: Double

    enum LoadError: Error, CustomStringConvertible {
        case malformed(String)
        var description: String {
            switch self { case let .malformed(m): return "auto-mpg.csv: \(m)" }
        }
    }

    init(csv url: URL, trainFraction: Double = 0.8, seed: UInt32 = 0) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        var lines = text.split(whereSeparator: \.isNewline).map(String.init)
        guard let header = lines.first,
              header.hasPrefix("mpg,cylinders,displacement,horsepower,weight,acceleration,year,origin")
        else { throw LoadError.malformed("expected the header mpg,cylinders,…,origin,name") }
        lines.removeFirst()
        // Frame columns: mpg, 6 numeric features, Europe, Japan, USA.
        var frame: [[Double]] = []
        for (number, line) in lines.enumerated() {
            let fields = line.split(separator: ",", maxSplits: 8, omittingEmptySubsequences: false)
            guard fields.count >= 8 else { throw LoadError.malformed("row \(number + 1) has \(fields.count) fields") }
            let values = try fields.prefix(8).map { f -> Double in
                guard let v = Double(f.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                    throw LoadError.malformed("row \(number + 1): '\(f)' is not a number")
                }
                return v
            }
            let origin = Int(values[7])
            guard (1...3).contains(origin) else { throw LoadError.malformed("row \(number + 1): origin \(origin)") }
            frame.append(Array(values[0..<7]) + [origin == 2 ? 1 : 0, origin == 3 ? 1 : 0, origin == 1 ? 1 : 0])
        }
        guard frame.count == 392 else { throw LoadError.malformed("\(frame.count) rows, expected 392") }
        let n = frame.count, columns = frame[0].count
        var means = [Double](repeating: 0, count: columns), deviations = means
        for c in 0..<columns {
            let mean = frame.reduce(0) { $0 + $1[c] } / Double(n)
            let variance = frame.reduce(0) { $0 + ($1[c] - mean) * ($1[c] - mean) } / Double(n - 1)
            means[c] = mean
            deviations[c] = variance.squareRoot()
        }
        let standardized = frame.map { row in (0..<columns).map { (row[$0] - means[$0]) / deviations[$0] } }
        var random = NumPyLegacyRandom(seed: seed)
        let permutation = random.permutation(n)
        let trainCount = Int((trainFraction * Double(n)).rounded(.toNearestOrEven))
        let trainRows = Array(permutation.prefix(trainCount))
        let inTrain = Set(trainRows)
        let testRows = (0..<n).filter { !inTrain.contains($0) }
        func dataset(_ rows: [Int], name: String) throws -> Dataset<Double> {
            let x = try Matrix(rows: rows.count, columns: columns - 1, storage: rows.flatMap { standardized[$0].dropFirst() })
            let y = try Matrix(rows: rows.count, columns: 1, storage: rows.map { standardized[$0][0] })
            return try Dataset(name: name, inputs: x, targets: y)
        }
        self.trainRows = trainRows
        train = try dataset(trainRows, name: "auto-mpg train")
        test = try dataset(testRows, name: "auto-mpg test")
        mpgMean = means[0]
        mpgStandardDeviation = deviations[0]
    }
}
