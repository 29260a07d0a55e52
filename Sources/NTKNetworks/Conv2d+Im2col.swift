import NTKLinearAlgebra

extension Conv2d {
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
                    for oy in 0..<Ho {
                        let y = oy * sh - ph + ky
                        let out = row + oy * Wo
                        if y < 0 || y >= H {
                            out.update(repeating: 0, count: Wo)
                            continue
                        }
                        let line = plane + y * W
                        for ox in 0..<Wo {
                            let x = ox * sw - pw + kx
                            out[ox] = (x >= 0 && x < W) ? line[x] : 0
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
                    for oy in 0..<Ho {
                        let y = oy * sh - ph + ky
                        if y < 0 || y >= H { continue }
                        let line = plane + y * W, src = row + oy * Wo
                        for ox in 0..<Wo {
                            let x = ox * sw - pw + kx
                            if x >= 0 && x < W { line[x] += src[ox] }
                        }
                    }
                }
            }
        }
    }
}
