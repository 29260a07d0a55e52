import Foundation

/// A line chart rendered to standalone SVG by NTKSpectra itself (there is no plotting library
/// for Swift on Linux worth depending on). Linear or logarithmic axes with "nice" ticks
/// (1–2–5 steps on linear axes, decades with 2…9 minor ticks on log axes), a legend, and
/// optional markers and dashed lines. Several plots tile into one figure with `SVGFigure`.
public struct LinePlot: Sendable {
    /// How an axis maps data to the page.
    public enum Scale: Sendable { case linear, logarithmic }

    /// One named curve.
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var color: String?
        public var dashed: Bool
        public var markers: Bool
        /// Draw the connecting line (false: markers only, e.g. for sparse reference points).
        public var line: Bool
        /// Hollow, larger markers (reference values drawn over a curve).
        public var hollow: Bool
        /// An interval around the curve (e.g. a confidence interval), drawn as a translucent band
        /// between `low` and `high` at each x.
        public var band: [(x: Double, low: Double, high: Double)]
        public init(name: String, points: [(x: Double, y: Double)], color: String? = nil,
                    dashed: Bool = false, markers: Bool = true, line: Bool = true, hollow: Bool = false,
                    band: [(x: Double, low: Double, high: Double)] = []) {
            self.name = name; self.points = points; self.color = color
            self.dashed = dashed; self.markers = markers; self.line = line; self.hollow = hollow
            self.band = band
        }
    }

    /// A horizontal reference line (e.g. an exact value, or the dense path's cost).
    public struct ReferenceLine: Sendable {
        public var label: String
        public var value: Double
        public var vertical: Bool
        public init(label: String, value: Double, vertical: Bool = false) {
            self.label = label; self.value = value; self.vertical = vertical
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xScale: Scale
    public var yScale: Scale
    public var series: [Series]
    public var references: [ReferenceLine]

    public init(title: String, xLabel: String, yLabel: String, xScale: Scale = .linear,
                yScale: Scale = .linear, series: [Series] = [], references: [ReferenceLine] = []) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
        self.xScale = xScale; self.yScale = yScale; self.series = series; self.references = references
    }

    /// Okabe–Ito colour-blind-safe palette.
    public static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

    /// The drawable points of the plot (finite, and positive on log axes).
    func usable(_ p: (x: Double, y: Double)) -> Bool {
        p.x.isFinite && p.y.isFinite && (xScale == .linear || p.x > 0) && (yScale == .linear || p.y > 0)
    }

    /// Renders the plot into a `width`×`height` box at (`originX`, `originY`) of an SVG document.
    func render(originX: Double, originY: Double, width: Double, height: Double) -> String {
        let left = originX + 72, right = originX + width - 16
        let top = originY + 34, bottom = originY + height - 52
        var out = ""
        let points = series.flatMap { s in
            s.points.filter(usable) + s.band.flatMap { [(x: $0.x, y: $0.low), (x: $0.x, y: $0.high)] }.filter(usable)
        }
        var xs = points.map(\.x), ys = points.map(\.y)
        for r in references where r.value.isFinite {
            if r.vertical, xScale == .linear || r.value > 0 { xs.append(r.value) }
            if !r.vertical, yScale == .linear || r.value > 0 { ys.append(r.value) }
        }
        let xAxis = Axis(values: xs, scale: xScale, low: left, high: right)
        let yAxis = Axis(values: ys, scale: yScale, low: bottom, high: top)
        out += "<g font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
        out += "<text x=\"\(f(originX + width / 2))\" y=\"\(f(originY + 20))\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>\n"
        // Grid and ticks.
        for t in yAxis.ticks {
            let y = yAxis.position(t.value)
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(right))\" y2=\"\(f(y))\" stroke=\"\(t.major ? "#dddddd" : "#f0f0f0")\"/>\n"
            if t.major {
                out += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(t.label)</text>\n"
            }
        }
        for t in xAxis.ticks {
            let x = xAxis.position(t.value)
            out += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(bottom))\" stroke=\"\(t.major ? "#dddddd" : "#f0f0f0")\"/>\n"
            if t.major {
                out += "<text x=\"\(f(x))\" y=\"\(f(bottom + 16))\" text-anchor=\"middle\">\(t.label)</text>\n"
            }
        }
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(right - left))\" height=\"\(f(bottom - top))\" fill=\"none\" stroke=\"#333333\"/>\n"
        out += "<text x=\"\(f((left + right) / 2))\" y=\"\(f(bottom + 38))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        let yMid = (top + bottom) / 2
        out += "<text x=\"\(f(originX + 16))\" y=\"\(f(yMid))\" text-anchor=\"middle\" transform=\"rotate(-90 \(f(originX + 16)) \(f(yMid)))\">\(escape(yLabel))</text>\n"
        // Reference lines.
        for r in references where r.value.isFinite {
            if r.vertical {
                guard xScale == .linear || r.value > 0 else { continue }
                let x = xAxis.position(r.value)
                out += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(bottom))\" stroke=\"#777777\" stroke-dasharray=\"2 3\"/>\n"
                out += "<text x=\"\(f(x - 4))\" y=\"\(f(top + 12))\" text-anchor=\"end\" fill=\"#555555\" font-size=\"11\">\(escape(r.label))</text>\n"
            } else {
                guard yScale == .linear || r.value > 0 else { continue }
                let y = yAxis.position(r.value)
                out += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(right))\" y2=\"\(f(y))\" stroke=\"#777777\" stroke-dasharray=\"2 3\"/>\n"
                out += "<text x=\"\(f(left + 4))\" y=\"\(f(y - 4))\" fill=\"#555555\" font-size=\"11\">\(escape(r.label))</text>\n"
            }
        }
        // Curves, clipped to the frame.
        let clipID = "clip\(Int(originX))_\(Int(originY))"
        out += "<clipPath id=\"\(clipID)\"><rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(right - left))\" height=\"\(f(bottom - top))\"/></clipPath>\n"
        out += "<g clip-path=\"url(#\(clipID))\">\n"
        for (index, s) in series.enumerated() {
            let color = s.color ?? Self.palette[index % Self.palette.count]
            let band = s.band.filter { usable((x: $0.x, y: $0.low)) && usable((x: $0.x, y: $0.high)) }
            if band.count >= 2 {
                let upper = band.map { "\(f(xAxis.position($0.x))),\(f(yAxis.position($0.high)))" }
                let lower = band.reversed().map { "\(f(xAxis.position($0.x))),\(f(yAxis.position($0.low)))" }
                out += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(color)\" fill-opacity=\"0.2\" stroke=\"none\"/>\n"
            }
            let pts = s.points.filter(usable).map { (xAxis.position($0.x), yAxis.position($0.y)) }
            guard !pts.isEmpty else { continue }
            if s.line {
                let path = pts.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ")
                out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            }
            if s.markers {
                for p in pts {
                    out += s.hollow
                        ? "<circle cx=\"\(f(p.0))\" cy=\"\(f(p.1))\" r=\"5.5\" fill=\"white\" fill-opacity=\"0.6\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
                        : "<circle cx=\"\(f(p.0))\" cy=\"\(f(p.1))\" r=\"2.8\" fill=\"\(color)\"/>\n"
                }
            }
        }
        out += "</g>\n"
        // Legend inside the frame, in the corner that hides the fewest data points.
        if !series.isEmpty {
            let longest = series.map(\.name.count).max() ?? 0
            let boxWidth = Double(longest) * 6.6 + 40, boxHeight = Double(series.count) * 17 + 8
            let corners = [(right - boxWidth - 8, top + 8), (left + 8, top + 8),
                           (right - boxWidth - 8, bottom - boxHeight - 8), (left + 8, bottom - boxHeight - 8)]
            let drawn = series.flatMap { $0.points.filter(usable).map { (xAxis.position($0.x), yAxis.position($0.y)) } }
            let hidden = corners.map { c in
                drawn.filter { $0.0 >= c.0 - 4 && $0.0 <= c.0 + boxWidth + 4 && $0.1 >= c.1 - 4 && $0.1 <= c.1 + boxHeight + 4 }.count
            }
            let best = hidden.indices.min { hidden[$0] < hidden[$1] } ?? 0
            let (bx, by) = corners[best]
            out += "<rect x=\"\(f(bx))\" y=\"\(f(by))\" width=\"\(f(boxWidth))\" height=\"\(f(boxHeight))\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbbbbb\"/>\n"
            for (index, s) in series.enumerated() {
                let color = s.color ?? Self.palette[index % Self.palette.count]
                let y = by + 14 + Double(index) * 17
                if s.line {
                    out += "<line x1=\"\(f(bx + 6))\" y1=\"\(f(y - 4))\" x2=\"\(f(bx + 26))\" y2=\"\(f(y - 4))\" stroke=\"\(color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
                }
                if s.hollow {
                    out += "<circle cx=\"\(f(bx + 16))\" cy=\"\(f(y - 4))\" r=\"5\" fill=\"white\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
                }
                out += "<text x=\"\(f(bx + 32))\" y=\"\(f(y))\">\(escape(s.name))</text>\n"
            }
        }
        out += "</g>\n"
        return out
    }
}

/// Several `LinePlot`s tiled in a grid, written as one standalone SVG document.
public struct SVGFigure: Sendable {
    public var plots: [LinePlot]
    public var columns: Int
    public var panelWidth: Double
    public var panelHeight: Double

    public init(plots: [LinePlot], columns: Int = 2, panelWidth: Double = 520, panelHeight: Double = 360) {
        self.plots = plots; self.columns = max(1, columns)
        self.panelWidth = panelWidth; self.panelHeight = panelHeight
    }

    /// The SVG document.
    public func svg() -> String {
        let cols = min(columns, max(plots.count, 1))
        let rows = (plots.count + cols - 1) / cols
        let width = Double(cols) * panelWidth, height = Double(max(rows, 1)) * panelHeight
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for (i, plot) in plots.enumerated() {
            out += plot.render(originX: Double(i % cols) * panelWidth, originY: Double(i / cols) * panelHeight,
                               width: panelWidth, height: panelHeight)
        }
        out += "</svg>\n"
        return out
    }

    /// Writes the document atomically.
    public func write(to url: URL) throws {
        try Data(svg().utf8).write(to: url, options: .atomic)
    }
}

/// Tick placement and the data-to-page map of one axis.
struct Axis {
    struct Tick { var value: Double; var label: String; var major: Bool }
    let scale: LinePlot.Scale
    let minimum: Double, maximum: Double
    let low: Double, high: Double
    let ticks: [Tick]

    init(values: [Double], scale: LinePlot.Scale, low: Double, high: Double) {
        self.scale = scale; self.low = low; self.high = high
        var lo = values.min() ?? (scale == .linear ? 0 : 1)
        var hi = values.max() ?? (scale == .linear ? 1 : 10)
        switch scale {
        case .linear:
            if hi - lo <= 1e-12 * max(abs(lo), abs(hi), 1e-300) {
                let pad = max(abs(lo) * 0.05, 1e-12); lo -= pad; hi += pad
            }
            let step = Axis.niceStep((hi - lo) / 5)
            lo = (lo / step).rounded(.down) * step
            hi = (hi / step).rounded(.up) * step
            var t: [Tick] = []
            var v = lo
            while v <= hi + step * 1e-9 {
                let clean = abs(v) < step * 1e-9 ? 0 : v
                t.append(Tick(value: clean, label: Axis.label(clean, step: step), major: true))
                v += step
            }
            ticks = t
        case .logarithmic:
            let dlo = log10(lo).rounded(.down)
            var dhi = log10(hi).rounded(.up)
            if dhi <= dlo { dhi = dlo + 1 }
            // Keep at most ~8 labelled decades.
            let stride = max(1, Int(((dhi - dlo) / 8).rounded(.up)))
            var t: [Tick] = []
            var d = dlo
            while d <= dhi {
                let base = pow(10, d)
                t.append(Tick(value: base, label: Axis.powerLabel(Int(d)), major: Int(d - dlo) % stride == 0))
                if d < dhi && stride == 1 {
                    for m in 2...9 { t.append(Tick(value: base * Double(m), label: "", major: false)) }
                }
                d += 1
            }
            lo = pow(10, dlo); hi = pow(10, dhi)
            ticks = t
        }
        minimum = lo; maximum = hi
    }

    func position(_ v: Double) -> Double {
        let fraction: Double
        switch scale {
        case .linear: fraction = (v - minimum) / (maximum - minimum)
        case .logarithmic: fraction = (log10(v) - log10(minimum)) / (log10(maximum) - log10(minimum))
        }
        return low + fraction * (high - low)
    }

    /// The 1–2–5 step at or above `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let exponent = log10(raw).rounded(.down)
        let base = pow(10, exponent)
        let m = raw / base
        let nice: Double = m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10
        return nice * base
    }

    static func label(_ v: Double, step: Double) -> String {
        if v == 0 { return "0" }
        let magnitude = max(abs(v), step)
        if magnitude >= 1e5 || magnitude < 1e-3 {
            return String(format: "%.3g", v)
        }
        let decimals = max(0, Int(-log10(step).rounded(.down)))
        return String(format: "%.\(decimals)f", v)
    }

    /// "10ⁿ" with a Unicode superscript exponent.
    static func powerLabel(_ exponent: Int) -> String {
        if exponent == 0 { return "1" }
        if exponent == 1 { return "10" }
        let superscripts: [Character: Character] = [
            "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹", "-": "⁻",
        ]
        return "10" + String(String(exponent).map { superscripts[$0] ?? $0 })
    }
}

/// Fixed-point coordinate formatting for SVG.
private func f(_ v: Double) -> String { String(format: "%.1f", v) }

/// Escapes text for XML.
func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
