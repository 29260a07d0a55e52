import Foundation

/// A grid of annotated cells (e.g. ΔS over depth × width), coloured on a diverging scale
/// (blue negative, white 0, red positive), each cell showing its value and a second line (an
/// interval); several panels tile into one standalone SVG with one shared colour bar.
struct HeatMapPanel {
    var title: String
    var rowAxis: String
    var columnAxis: String
    var rows: [String]
    var columns: [String]
    /// rows × columns; nil: no value (grey).
    var values: [[Double?]]
    /// rows × columns, the second line of each cell.
    var details: [[String]]
    /// Lines printed under the grid.
    var notes: [String] = []
}

struct HeatMapFigure {
    var title: String
    var panels: [HeatMapPanel]
    var columns: Int
    /// Label of the colour bar (quantity and unit).
    var scaleLabel: String
    /// The colour scale covers [−limit, limit].
    var limit: Double
    var panelWidth = 380.0
    init(title: String, panels: [HeatMapPanel], columns: Int, panelWidth: Double = 380, scaleLabel: String, limit: Double) {
        self.title = title; self.panels = panels; self.columns = columns; self.panelWidth = panelWidth
        self.scaleLabel = scaleLabel; self.limit = limit
    }
    var panelHeight = 330.0

    static func color(_ x: Double, limit: Double) -> String {
        let t = max(-1, min(1, x / max(limit, 1e-300)))
        // White → #b2182b (positive) or → #2166ac (negative).
        let target: (Double, Double, Double) = t >= 0 ? (178, 24, 43) : (33, 102, 172)
        let a = abs(t)
        let r = 255 + (target.0 - 255) * a, g = 255 + (target.1 - 255) * a, b = 255 + (target.2 - 255) * a
        return String(format: "#%02x%02x%02x", Int(r.rounded()), Int(g.rounded()), Int(b.rounded()))
    }

    func svg() -> String {
        let cols = max(1, min(columns, panels.count))
        let rows = (panels.count + cols - 1) / cols
        let top = 40.0, bar = 70.0
        let width = Double(cols) * panelWidth, height = top + Double(rows) * panelHeight + bar
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<g font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
        out += "<text x=\"\(f(width / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(esc(title))</text>\n"
        for (index, panel) in panels.enumerated() {
            let ox = Double(index % cols) * panelWidth, oy = top + Double(index / cols) * panelHeight
            out += render(panel, ox: ox, oy: oy)
        }
        // Colour bar.
        let barLeft = width / 2 - 180, barWidth = 360.0, barTop = height - bar + 14
        let steps = 60
        for i in 0..<steps {
            let x = -limit + 2 * limit * (Double(i) + 0.5) / Double(steps)
            out += "<rect x=\"\(f(barLeft + barWidth * Double(i) / Double(steps)))\" y=\"\(f(barTop))\" width=\"\(f(barWidth / Double(steps) + 0.5))\" height=\"14\" fill=\"\(Self.color(x, limit: limit))\"/>\n"
        }
        out += "<rect x=\"\(f(barLeft))\" y=\"\(f(barTop))\" width=\"\(f(barWidth))\" height=\"14\" fill=\"none\" stroke=\"#333333\"/>\n"
        for (x, label) in [(-limit, String(format: "%+.2g", -limit)), (0, "0"), (limit, String(format: "%+.2g", limit))] {
            let px = barLeft + barWidth * (x + limit) / (2 * limit)
            out += "<text x=\"\(f(px))\" y=\"\(f(barTop + 28))\" text-anchor=\"middle\">\(esc(label))</text>\n"
        }
        out += "<text x=\"\(f(width / 2))\" y=\"\(f(barTop + 46))\" text-anchor=\"middle\">\(esc(scaleLabel))</text>\n"
        out += "</g>\n</svg>\n"
        return out
    }

    func render(_ panel: HeatMapPanel, ox: Double, oy: Double) -> String {
        let left = ox + 70, right = ox + panelWidth - 16
        let gridTop = oy + 30
        let noteSpace = Double(panel.notes.count) * 15
        let gridBottom = oy + panelHeight - 44 - noteSpace
        let cellWidth = (right - left) / Double(max(panel.columns.count, 1))
        let cellHeight = (gridBottom - gridTop) / Double(max(panel.rows.count, 1))
        var out = "<text x=\"\(f((left + right) / 2))\" y=\"\(f(oy + 18))\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(esc(panel.title))</text>\n"
        for (i, row) in panel.rows.enumerated() {
            let y = gridTop + Double(i) * cellHeight
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(y + cellHeight / 2 + 4))\" text-anchor=\"end\">\(esc(row))</text>\n"
            for (j, _) in panel.columns.enumerated() {
                let x = left + Double(j) * cellWidth
                let v = panel.values[i][j]
                let fill = v.map { Self.color($0, limit: limit) } ?? "#dddddd"
                out += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(cellWidth))\" height=\"\(f(cellHeight))\" fill=\"\(fill)\" stroke=\"white\" stroke-width=\"2\"/>\n"
                let ink = v.map { abs($0) / limit > 0.6 ? "white" : "black" } ?? "black"
                out += "<text x=\"\(f(x + cellWidth / 2))\" y=\"\(f(y + cellHeight / 2 - 2))\" text-anchor=\"middle\" fill=\"\(ink)\" font-weight=\"bold\">\(v.map { String(format: "%+.3f", $0) } ?? "—")</text>\n"
                out += "<text x=\"\(f(x + cellWidth / 2))\" y=\"\(f(y + cellHeight / 2 + 13))\" text-anchor=\"middle\" fill=\"\(ink)\" font-size=\"10\">\(esc(panel.details[i][j]))</text>\n"
            }
        }
        for (j, column) in panel.columns.enumerated() {
            out += "<text x=\"\(f(left + (Double(j) + 0.5) * cellWidth))\" y=\"\(f(gridBottom + 15))\" text-anchor=\"middle\">\(esc(column))</text>\n"
        }
        out += "<text x=\"\(f((left + right) / 2))\" y=\"\(f(gridBottom + 31))\" text-anchor=\"middle\">\(esc(panel.columnAxis))</text>\n"
        let yMid = (gridTop + gridBottom) / 2
        out += "<text x=\"\(f(ox + 16))\" y=\"\(f(yMid))\" text-anchor=\"middle\" transform=\"rotate(-90 \(f(ox + 16)) \(f(yMid)))\">\(esc(panel.rowAxis))</text>\n"
        for (k, note) in panel.notes.enumerated() {
            out += "<text x=\"\(f(left))\" y=\"\(f(gridBottom + 47 + Double(k) * 15))\" font-size=\"11\">\(esc(note))</text>\n"
        }
        return out
    }

    func write(to url: URL) throws { try Data(svg().utf8).write(to: url, options: .atomic) }

    private func f(_ x: Double) -> String { String(format: "%.1f", x) }
    private func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
