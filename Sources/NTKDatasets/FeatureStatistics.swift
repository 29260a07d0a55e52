/// Per-feature mean and standard deviation of a data set's inputs, to standardize a test set
/// with the statistics of its training set.
///
/// The standard deviation is the population one (denominator n), as in scikit-learn's
/// `StandardScaler`; constant features get scale 1 so that they are only centred.
public struct FeatureStatistics: Sendable, Equatable {
    public var mean: [Double]
    public var standardDeviation: [Double]

    public init(mean: [Double], standardDeviation: [Double]) {
        self.mean = mean
        self.standardDeviation = standardDeviation
    }
}
