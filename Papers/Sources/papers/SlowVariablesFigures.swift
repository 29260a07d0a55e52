import Foundation
import NTKSpectra

/// The SVG figures of the kernels-slow-variables reproduction, drawn from the records. Bands are
/// ±2 standard errors (jackknife over chains for κ, paired over chains for ΔA).
enum SlowVariablesFigures {
    typealias Cell = SlowVariablesReproduction.Cell

    static func write(_ cells: [String: [Cell]], output: URL) throws {
        let palette = LinePlot.palette
        let nets = SlowVariablesReproduction.parts.filter { (cells[$0]?.count ?? 0) >= 1 }
        guard !nets.isEmpty else { return }
        func sorted(_ net: String) -> [Cell] { (cells[net] ?? []).sorted { $0.width < $1.width } }
        func guide(_ first: (x: Double, y: Double), to last: Double) -> LinePlot.Series {
            LinePlot.Series(name: "∝ 1/N", points: [first, (last, first.y * first.x / last)], color: "#000000", dashed: true, markers: false)
        }
        // S1: |κ| of the hidden pre-activations against width, posterior and init.
        var s1: [LinePlot] = []
        for net in nets {
            let c = sorted(net)
            var series: [LinePlot.Series] = []
            for (q, layer) in c[0].kurtosisLayers.enumerated() {
                for (k, post) in [true, false].enumerated() {
                    let pts = c.map { (x: Double($0.width), y: abs(post ? $0.kurtosisPost[q] : $0.kurtosisInit[q]),
                                       se: post ? $0.kurtosisPostSE[q] : $0.kurtosisInitSE[q]) }
                    series.append(LinePlot.Series(
                        name: "layer \(layer) pre-activation, \(post ? "posterior" : "prior (init)")", points: pts.map { ($0.x, max($0.y, 1e-5)) },
                        color: palette[(2 * q + k) % palette.count], dashed: !post,
                        band: pts.map { ($0.x, max($0.y - 2 * $0.se, 1e-5), $0.y + 2 * $0.se) }))
                }
            }
            if let first = series.first?.points.first, let last = c.last { series.append(guide(first, to: Double(last.width))) }
            s1.append(LinePlot(title: "S1 \(net.uppercased()): excess kurtosis of hidden pre-activations",
                               xLabel: "width N (units or channels, log scale)", yLabel: "|κ| over chains × units (dimensionless, ±2 SE)",
                               xScale: .logarithmic, yScale: .logarithmic, series: series))
        }
        try SVGFigure(plots: s1).write(to: output.appendingPathComponent("s1-kurtosis-vs-width.svg"))
        // S2: ΔA per hidden layer against width.
        var s2: [LinePlot] = []
        for net in nets {
            let c = sorted(net)
            let layers = c[0].deltaAlignment.count - 1  // the readout's output kernel f fᵀ is left out
            let series = (0..<layers).map { l in
                LinePlot.Series(name: "layer \(l)" + (l == SlowVariablesReproduction.readoutInputLayer(net) ? " (readout input)" : ""),
                                points: c.map { (Double($0.width), $0.deltaAlignment[l]) }, color: palette[l % palette.count],
                                band: c.map { (Double($0.width), $0.deltaAlignment[l] - 2 * $0.deltaAlignmentSE[l], $0.deltaAlignment[l] + 2 * $0.deltaAlignmentSE[l]) })
            }
            s2.append(LinePlot(title: "S2 \(net.uppercased()): kernel-target alignment gained by training",
                               xLabel: "width N (units or channels, log scale)", yLabel: "ΔA = A(K_post, yyᵀ) − A(K_init, yyᵀ) (±2 SE)",
                               xScale: .logarithmic, series: series, references: [LinePlot.ReferenceLine(label: "no change", value: 0)]))
        }
        try SVGFigure(plots: s2).write(to: output.appendingPathComponent("s2-alignment-change-vs-width.svg"))
        // S3: GP errors against width.
        var s3: [LinePlot] = []
        for net in nets {
            let c = sorted(net)
            let series = [
                LinePlot.Series(name: "GP, adapted kernel (posterior mean)", points: c.map { (Double($0.width), $0.mseAdapted) }, color: palette[0]),
                LinePlot.Series(name: "GP, NNGP kernel (infinite width)", points: c.map { (Double($0.width), $0.mseNNGP) }, color: palette[1]),
                LinePlot.Series(name: "GP, mean prior kernel at this width", points: c.map { (Double($0.width), $0.mseInit) }, color: palette[2], dashed: true),
                LinePlot.Series(name: "sampling floor of the ensemble mean", points: c.map { (Double($0.width), $0.targetSamplingVariance) },
                                color: "#999999", dashed: true, markers: false),
            ]
            s3.append(LinePlot(title: "S3 \(net.uppercased()): GP prediction of the networks' mean output",
                               xLabel: "width N (units or channels, log scale)", yLabel: "test MSE vs posterior-mean f (target units²)",
                               xScale: .logarithmic, yScale: .logarithmic, series: series))
        }
        try SVGFigure(plots: s3).write(to: output.appendingPathComponent("s3-gp-error-vs-width.svg"))
        // X1: per-layer NTK trace shares, init vs end.
        var x1: [LinePlot] = []
        for net in nets {
            let c = sorted(net).filter { !$0.tracesInit.isEmpty && !$0.tracesFinal.isEmpty }
            guard let layers = c.first.map({ $0.tracesInit.count - 1 }) else { continue }
            var series: [LinePlot.Series] = []
            for l in 0..<layers {
                for (k, final) in [false, true].enumerated() {
                    series.append(LinePlot.Series(
                        name: "weight layer \(l + 1) \(final ? "after training" : "at init")",
                        points: c.map { (Double($0.width), (final ? $0.tracesFinal : $0.tracesInit)[l] / (final ? $0.tracesFinal : $0.tracesInit).last!) },
                        color: palette[l % palette.count], dashed: k == 0))
                }
            }
            x1.append(LinePlot(title: "X1 \(net.uppercased()): per-layer NTK trace shares (one chain, exact)",
                               xLabel: "width N (units or channels, log scale)", yLabel: "tr K_l / tr K (fraction)",
                               xScale: .logarithmic, series: series))
        }
        if !x1.isEmpty { try SVGFigure(plots: x1).write(to: output.appendingPathComponent("x1-ntk-layer-shares-vs-width.svg")) }
    }
}
