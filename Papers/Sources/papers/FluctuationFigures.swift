import Foundation
import NTKSpectra

/// The SVG figures of the finite-width-fluctuations reproduction, drawn from the records.
/// Bands are ±1 standard error of each variance estimate (Gaussian approximation σ²√(2/(n−1))).
enum FluctuationFigures {
    typealias Cell = FiniteWidthFluctuationsReproduction.Cell

    static func band(_ points: [(x: Double, variance: Double, se: Double)]) -> [(x: Double, low: Double, high: Double)] {
        points.map { (x: $0.x, low: max($0.variance - $0.se, $0.variance * 0.05), high: $0.variance + $0.se) }
    }

    static func write(twoLayer: [Cell], deep: [Cell], hanin: [FiniteWidthFluctuationsReproduction.HaninCell], output: URL) throws {
        let palette = LinePlot.palette
        if !twoLayer.isEmpty {
            let gammas = FiniteWidthFluctuationsReproduction.gammas(twoLayer)
            let widths = FiniteWidthFluctuationsReproduction.widths(twoLayer)
            var plots: [LinePlot] = []
            for final in [false, true] {
                var series: [LinePlot.Series] = []
                for (k, g) in gammas.enumerated() {
                    let cells = twoLayer.filter { $0.gamma0 == g }.sorted { $0.width < $1.width }
                    let pts = cells.map { c -> (x: Double, variance: Double, se: Double) in
                        let s = final ? c.final : c.initial
                        return (Double(c.width), s.kernelVariance, s.standardError(s.kernelVariance))
                    }
                    series.append(LinePlot.Series(name: "γ₀ = \(fmt(g, 3))", points: pts.map { ($0.x, $0.variance) },
                                                  color: palette[k % palette.count], band: band(pts)))
                }
                // Slope −1 guide through the first γ₀'s smallest-width point.
                if let first = series.first?.points.first, let n1 = widths.last {
                    series.append(LinePlot.Series(name: "∝ 1/N", points: [first, (Double(n1), first.y * first.x / Double(n1))],
                                                  color: "#000000", dashed: true, markers: false))
                }
                plots.append(LinePlot(title: "Two-layer: Var[K̂_ij] \(final ? "after training" : "at initialization")",
                                      xLabel: "width N (hidden units)", yLabel: "mean_ij Var[K̂_ij], K̂ = γ₀²N·K",
                                      xScale: .logarithmic, yScale: .logarithmic, series: series))
            }
            try SVGFigure(plots: plots).write(to: output.appendingPathComponent("b1-kernel-variance-vs-width.svg"))
            try SVGFigure(plots: gammaPlots(twoLayer, title: "Two-layer")).write(to: output.appendingPathComponent("b2-variance-vs-gamma0.svg"))
        }
        if !deep.isEmpty {
            var plots: [LinePlot] = []
            for depth in Array(Set(deep.map(\.depth))).sorted() {
                plots += gammaPlots(deep.filter { $0.depth == depth }, title: "Depth \(depth)", snr: true)
            }
            try SVGFigure(plots: plots, columns: 3).write(to: output.appendingPathComponent("b3-deep-variance-snr-vs-gamma0.svg"))
        }
        if !hanin.isEmpty {
            let fit = FiniteWidthFluctuationsReproduction.fitLine(hanin.map(\.beta), hanin.map(\.logRatio))
            var series: [LinePlot.Series] = []
            for (k, w) in Array(Set(hanin.map(\.width))).sorted().enumerated() {
                let cells = hanin.filter { $0.width == w }.sorted { $0.beta < $1.beta }
                series.append(LinePlot.Series(name: "width \(w) (depth \(cells.map { String($0.depth) }.joined(separator: ", ")))",
                                              points: cells.map { ($0.beta, $0.logRatio) }, color: palette[k % palette.count],
                                              band: cells.map { ($0.beta, $0.logRatio - $0.error, $0.logRatio + $0.error) }))
            }
            let betas = hanin.map(\.beta)
            let lo = betas.min()!, hi = betas.max()!
            series.append(LinePlot.Series(name: "fit \(fmt(fit.intercept, 3)) + \(fmt(fit.slope, 3))·β", points: [
                (lo, fit.intercept + fit.slope * lo), (hi, fit.intercept + fit.slope * hi)], color: "#000000", dashed: true, markers: false))
            series.append(LinePlot.Series(name: "paper: 5β", points: [(lo, 5 * lo), (hi, 5 * hi)], color: "#999999", dashed: true, markers: false))
            try SVGFigure(plots: [LinePlot(title: "Hanin & Nica: ReLU NTK K(x,x) fluctuations at initialization",
                                           xLabel: "β = depth / width (Σ_l 1/n_l)", yLabel: "log(E[K²] / E[K]²) (dimensionless)",
                                           series: series)], columns: 1).write(to: output.appendingPathComponent("h1-hanin-nica-log-ratio-vs-beta.svg"))
        }
    }

    /// Final kernel variance, final prediction variance (and SNR) against γ₀, one series per width.
    static func gammaPlots(_ cells: [Cell], title: String, snr: Bool = false) -> [LinePlot] {
        let palette = LinePlot.palette
        let widths = FiniteWidthFluctuationsReproduction.widths(cells)
        func series(_ value: (Cell) -> (Double, Double)) -> [LinePlot.Series] {
            widths.enumerated().map { k, n in
                let c = cells.filter { $0.width == n }.sorted { $0.gamma0 < $1.gamma0 }
                let pts = c.map { cell -> (x: Double, variance: Double, se: Double) in
                    let (v, se) = value(cell)
                    return (cell.gamma0, v, se)
                }
                return LinePlot.Series(name: "N = \(n)", points: pts.map { ($0.x, $0.variance) }, color: palette[k % palette.count],
                                       band: band(pts))
            }
        }
        var plots = [
            LinePlot(title: "\(title): final kernel variance", xLabel: "γ₀ (feature-learning strength, log scale)",
                     yLabel: "mean over (i, j) of Var[K̂_ij] after training", xScale: .logarithmic, yScale: .logarithmic,
                     series: series { ($0.final.kernelVariance, $0.final.standardError($0.final.kernelVariance)) }),
            LinePlot(title: "\(title): final prediction variance", xLabel: "γ₀ (feature-learning strength, log scale)",
                     yLabel: "mean over test x of Var[f(x)] after training", xScale: .logarithmic, yScale: .logarithmic,
                     series: series { ($0.final.predictionVariance, $0.final.standardError($0.final.predictionVariance)) }),
        ]
        if snr {
            plots.append(LinePlot(title: "\(title): kernel signal-to-noise", xLabel: "γ₀ (feature-learning strength, log scale)",
                                  yLabel: "‖E K̂‖²_F / Σ Var[K̂_ij] after training", xScale: .logarithmic, yScale: .logarithmic,
                                  series: series { ($0.final.signalToNoise, 0) }))
        }
        return plots
    }
}
