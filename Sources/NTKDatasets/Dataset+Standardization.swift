import NTKLinearAlgebra

extension Dataset {
    /// Mean and (population) standard deviation of every input feature, accumulated in
    /// Double.
    /// - Complexity: O(n·d), two passes.
    public func featureStatistics() -> FeatureStatistics {
        let n = count, d = inputSize
        var mean = [Double](repeating: 0, count: d)
        var variance = [Double](repeating: 0, count: d)
        guard n > 0 else { return FeatureStatistics(mean: mean, standardDeviation: variance) }
        for i in 0..<n {
            for j in 0..<d { mean[j] += Double(inputs.storage[i * d + j]) }
        }
        for j in 0..<d { mean[j] /= Double(n) }
        for i in 0..<n {
            for j in 0..<d {
                let delta = Double(inputs.storage[i * d + j]) - mean[j]
                variance[j] += delta * delta
            }
        }
        return FeatureStatistics(
            mean: mean, standardDeviation: variance.map { ($0 / Double(n)).squareRoot() })
    }

    /// Inputs transformed feature-wise to x' = (x − μ)/σ with the given statistics (default:
    /// this data set's own), so that each feature has mean 0 and variance 1; features with
    /// σ = 0 are only centred. Targets, labels and graph are unchanged.
    /// - Complexity: O(n·d).
    public func standardized(using statistics: FeatureStatistics? = nil) throws(DatasetError) -> Dataset {
        let stats = statistics ?? featureStatistics()
        let d = inputSize
        guard stats.mean.count == d, stats.standardDeviation.count == d else {
            throw .inconsistent(
                dataset: name,
                reason: "feature statistics for \(stats.mean.count) features, expected \(d)")
        }
        var result = self
        for i in 0..<count {
            for j in 0..<d {
                let s: Double = stats.standardDeviation[j]
                let scale: Double = s > 0 ? 1 / s : 1
                let x: Double = Double(inputs.storage[i * d + j])
                let z: Double = (x - stats.mean[j]) * scale
                result.inputs.storage[i * d + j] = Scalar(z)
            }
        }
        return result
    }
}
