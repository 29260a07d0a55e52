import Foundation
import NTKSpectra

/// The SVG figures of the universal-representations reproduction, drawn from the records and
/// the fits (networks as markers, the fitted theory as a dashed line of the same colour).
enum UniversalRepresentationsFigures {
    typealias Comparison = UniversalRepresentationsReproduction.Comparison

    static func write(_ cs: [Comparison], families: [String], scales: [Double], output: URL) throws {
        guard let lo = scales.first, let hi = scales.last else { return }
        let palette = LinePlot.palette
        func color(_ f: String) -> String { palette[(families.firstIndex(of: f) ?? 0) % palette.count] }
        var plots: [LinePlot] = []
        for (alpha, regime) in [(lo, "small α = \(fmt(lo, 2)) (rich)"), (hi, "large α = \(fmt(hi, 2)) (lazy)")] {
            for (quantity, label) in [("dh", "‖dh‖ = ‖h(x₁) − h(x₂)‖ / its largest theory value"),
                                      ("dy", "‖dy‖ = ‖f(x₁) − f(x₂)‖ (output units; target ‖dy*‖ = 2)")] {
                var series: [LinePlot.Series] = []
                for c in cs where c.run.scale == alpha {
                    let T = max(c.run.time.last!, .leastNormalMagnitude)
                    let net = quantity == "dh" ? c.run.dh : c.run.dy
                    let theory = quantity == "dh" ? c.fit.dh : c.fit.dy
                    let norm = quantity == "dh" ? max(theory.max() ?? 1, .leastNormalMagnitude) : 1
                    let x = c.run.time.map { $0 / T }
                    series.append(.init(name: c.run.family, points: zip(x, net).map { ($0, $1 / norm) }, color: color(c.run.family),
                                        markers: true, line: false))
                    series.append(.init(name: "\(c.run.family) theory (D = \(fmt(c.deviation, 2)))", points: zip(x, theory).map { ($0, $1 / norm) },
                                        color: color(c.run.family), dashed: true, markers: false))
                }
                plots.append(LinePlot(title: "\(quantity == "dh" ? "Representation" : "Output") distance, \(regime): networks (markers) vs fitted theory",
                                      xLabel: "gradient-flow time t / t_end (t = Σ η)", yLabel: label, series: series))
            }
        }
        var dev: [LinePlot.Series] = []
        for f in families {
            let mine = cs.filter { $0.run.family == f }.sorted { $0.run.scale < $1.run.scale }
            dev.append(.init(name: f, points: mine.map { ($0.run.scale, max($0.deviation, 1e-4)) }, color: color(f)))
        }
        plots.append(LinePlot(title: "U1: deviation from the theory per architecture", xLabel: "initialization scale α (× PyTorch default)",
                              yLabel: "D = max(D_h, D_y) (fraction of the curve's range)", xScale: .logarithmic, yScale: .logarithmic,
                              series: dev, references: [.init(label: "U1 threshold \(fmt(UniversalRepresentationsReproduction.u1Threshold, 2))",
                                                             value: UniversalRepresentationsReproduction.u1Threshold)]))
        try SVGFigure(plots: plots, columns: 2).write(to: output.appendingPathComponent("u1-theory-vs-networks.svg"))

        var kappa: [LinePlot.Series] = [], rep: [LinePlot.Series] = []
        for f in families {
            let mine = cs.filter { $0.run.family == f }.sorted { $0.run.scale < $1.run.scale }
            kappa.append(.init(name: f, points: mine.map { ($0.run.scale, max($0.run.kernelChange, 1e-12)) }, color: color(f)))
            rep.append(.init(name: f, points: mine.map { ($0.run.scale, max($0.run.representationChange, 1e-12)) }, color: color(f)))
        }
        try SVGFigure(plots: [
            LinePlot(title: "U2: relative NTK change over training (exact 4 × 4 kernel of the two inputs)",
                     xLabel: "initialization scale α (× PyTorch default)", yLabel: "κ = ‖K_T − K_0‖_F / ‖K_0‖_F",
                     xScale: .logarithmic, yScale: .logarithmic, series: kappa),
            LinePlot(title: "Hidden representations move in the rich regime only",
                     xLabel: "initialization scale α (× PyTorch default)", yLabel: "‖H_T − H_0‖_F / ‖H_0‖_F (h of both inputs)",
                     xScale: .logarithmic, yScale: .logarithmic, series: rep),
        ]).write(to: output.appendingPathComponent("u2-kernel-change-vs-scale.svg"))
    }
}
