import NTKLinearAlgebra

extension Conv2d {
    /// The output columns ox whose input column x = ox·s_w − p_w + kx lies inside [0, W):
    /// a half-open range, so the inner loops carry no bounds tests.
    @inline(__always)
    func validColumns(kx: Int) -> Range<Int> {
        let sw = stride.1, pw = padding.1, W = inputWidth, Wo = outputWidth
        // ox ≥ ⌈(p_w − kx)/s_w⌉ and ox ≤ ⌊(W − 1 + p_w − kx)/s_w⌋.
        let lowNumerator = pw - kx
        let low = lowNumerator <= 0 ? 0 : (lowNumerator + sw - 1) / sw
        let highNumerator = W - 1 + pw - kx
        let high = highNumerator < 0 ? -1 : min(Wo - 1, highNumerator / sw)
        return low <= high ? low..<(high + 1) : 0..<0
    }

    /// Unfolds one [C, H, W] image into columns: row r = (c·kh + ky)·kw + kx, column
    /// l = oy·W_out + ox holds x[c, oy·s_h − p_h + ky, ox·s_w − p_w + kx] (0 in the padding).
    /// Rows are `leadingDimension` apart so that several images can sit side by side.
    /// - Complexity: C·kh·kw·L copies.
    func im2col(_ image: UnsafePointer<Scalar>, into columns: UnsafeMutablePointer<Scalar>, leadingDimension ld: Int) {
        let (kh, kw) = kernelSize, (sh, sw) = stride, (ph, pw) = padding
        let H = inputHeight, W = inputWidth, Ho = outputHeight, Wo = outputWidth
        for c in 0..<inChannels {
            let plane = image + c * H * W
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let row = columns + ((c * kh + ky) * kw + kx) * ld
                    let valid = validColumns(kx: kx)
                    for oy in 0..<Ho {
                        let y = oy * sh - ph + ky
                        let out = row + oy * Wo
                        if y < 0 || y >= H || valid.isEmpty {
                            out.update(repeating: 0, count: Wo)
                            continue
                        }
                        if valid.lowerBound > 0 { out.update(repeating: 0, count: valid.lowerBound) }
                        if valid.upperBound < Wo { (out + valid.upperBound).update(repeating: 0, count: Wo - valid.upperBound) }
                        let source = plane + y * W + (valid.lowerBound * sw - pw + kx)
                        if sw == 1 {
                            (out + valid.lowerBound).update(from: source, count: valid.count)
                        } else {
                            let start = out + valid.lowerBound
                            for j in 0..<valid.count { start[j] = source[j &* sw] }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds every column entry back to the image pixel it came from.
    func col2imAdd(_ columns: UnsafePointer<Scalar>, leadingDimension ld: Int, into image: UnsafeMutablePointer<Scalar>) {
        let (kh, kw) = kernelSize, (sh, sw) = stride, (ph, pw) = padding
        let H = inputHeight, W = inputWidth, Ho = outputHeight, Wo = outputWidth
        for c in 0..<inChannels {
            let plane = image + c * H * W
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let row = columns + ((c * kh + ky) * kw + kx) * ld
                    let valid = validColumns(kx: kx)
                    if valid.isEmpty { continue }
                    for oy in 0..<Ho {
                        let y = oy * sh - ph + ky
                        if y < 0 || y >= H { continue }
                        let target = plane + y * W + (valid.lowerBound * sw - pw + kx)
                        let source = row + oy * Wo + valid.lowerBound
                        let n = valid.count
                        if sw == 1 {
                            for j in 0..<n { target[j] += source[j] }
                        } else {
                            for j in 0..<n { target[j &* sw] += source[j] }
                        }
                    }
                }
            }
        }
    }
}
