import Foundation
import Testing
@testable import NTKFormats

@Suite("SVG plots")
struct SVGPlotTests {
    @Test func niceLinearTicks() {
        let axis = Axis(values: [0.13, 0.87], scale: .linear, low: 0, high: 100)
        let values = axis.ticks.map(\.value)
        #expect(values.first! <= 0.13 && values.last! >= 0.87)
        // 1–2–5 steps: consecutive differences all equal to 0.1 or 0.2.
        let steps = zip(values.dropFirst(), values).map { $0 - $1 }
        #expect(steps.allSatisfy { abs($0 - steps[0]) < 1e-12 })
        #expect([0.1, 0.2].contains { abs($0 - steps[0]) < 1e-12 })
        #expect(axis.position(axis.minimum) == 0 && axis.position(axis.maximum) == 100)
    }

    @Test func intervalBandsAreDrawnAndWidenTheAxis() {
        let series = LinePlot.Series(
            name: "estimate", points: [(0, 1), (1, 2), (2, 3)],
            band: [(0, 0.5, 1.5), (1, 1.5, 2.5), (2, 2.5, 9)])
        let plot = LinePlot(title: "t", xLabel: "x (steps)", yLabel: "y (nats)", series: [series])
        let svg = SVGFigure(plots: [plot], columns: 1).svg()
        #expect(svg.components(separatedBy: "<polygon").count == 2)
        #expect(svg.contains("fill-opacity=\"0.2\""))
        // The band's upper end (9) lies above every point: the axis must reach it.
        #expect(svg.contains(">8<") || svg.contains(">10<"))
    }

    @Test func logTicksAreDecades() {
        let axis = Axis(values: [3, 4.5e4], scale: .logarithmic, low: 0, high: 1)
        let majors = axis.ticks.filter(\.major).map(\.value)
        #expect(majors == [1, 10, 100, 1000, 1e4, 1e5])
        #expect(axis.ticks.filter(\.major).map(\.label) == ["1", "10", "10²", "10³", "10⁴", "10⁵"])
        #expect(abs(axis.position(100) - 0.4) < 1e-12)
    }

    @Test func documentHasSeriesLegendAndSkipsNonPositiveOnLogAxes() throws {
        let plot = LinePlot(
            title: "Entropy <S>", xLabel: "step", yLabel: "trace", yScale: .logarithmic,
            series: [
                .init(name: "small", points: [(0, 1), (1, 10), (2, -1)]),
                .init(name: "wide", points: [(0, 5), (1, .nan), (2, 50)], dashed: true),
            ],
            references: [.init(label: "exact", value: 20)])
        let svg = SVGFigure(plots: [plot, plot], columns: 2).svg()
        #expect(svg.hasPrefix("<?xml"))
        #expect(svg.contains("Entropy &lt;S&gt;"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 4)
        #expect(svg.contains(">small</text>") && svg.contains(">wide</text>"))
        #expect(!svg.contains("nan") && !svg.contains("inf"))
        // Balanced elements: every opened non-self-closing tag is closed, in order.
        var stack: [String] = []
        var rest = Substring(svg)
        while let open = rest.firstIndex(of: "<") {
            guard let close = rest[open...].firstIndex(of: ">") else { Issue.record("unterminated tag"); return }
            let tag = rest[rest.index(after: open)..<close]
            rest = rest[rest.index(after: close)...]
            if tag.hasPrefix("?") || tag.hasSuffix("/") { continue }
            let name = String(tag.split(separator: " ").first ?? "")
            if name.hasPrefix("/") {
                #expect(stack.popLast() == String(name.dropFirst()))
            } else {
                stack.append(name)
            }
        }
        #expect(stack.isEmpty)
    }
}
