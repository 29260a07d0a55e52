import Testing
@testable import NTKLinearAlgebra

/// Each BLAS wrapper against a naive loop, for Float and Double and both transposes.
/// Tolerance: c·k·ε·(scale), with the accumulation length k and ε of the scalar type.
@Suite("BLASScalar wrappers")
struct BLASScalarTests {
    init() throws { try BLASThreads.set(1) }

    func random<T: BLASScalar>(_ count: Int, _ g: inout SeededGenerator) -> [T] {
        [T].gaussian(count: count, using: &g)
    }

    func checkGemm<T: BLASScalar>(_: T.Type) throws {
        var g = SeededGenerator(seed: 11)
        let (m, n, k) = (7, 5, 9)
        for ta in Transpose.allCases {
            for tb in Transpose.allCases {
                let a: [T] = random(m * k, &g), b: [T] = random(k * n, &g)
                var c: [T] = random(m * n, &g)
                let c0 = c
                let lda = ta == .none ? k : m, ldb = tb == .none ? n : k
                let alpha: T = 0.7, beta: T = -0.3
                try c.withUnsafeMutableBufferPointer { cp in
                    try T.gemm(ta, tb, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                               beta: beta, c: cp.baseAddress!, ldc: n)
                }
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.0
                        for p in 0..<k {
                            let aip = ta == .none ? a[i * k + p] : a[p * m + i]
                            let bpj = tb == .none ? b[p * n + j] : b[j * k + p]
                            s += Double(aip) * Double(bpj)
                        }
                        let expected = Double(alpha) * s + Double(beta) * Double(c0[i * n + j])
                        let tol = 4 * Double(k) * Double(T.ulpOfOne) * (1 + abs(s))
                        #expect(abs(Double(c[i * n + j]) - expected) <= tol, "gemm \(ta) \(tb) (\(i),\(j))")
                    }
                }
            }
        }
    }

    @Test func gemmFloat() throws { try checkGemm(Float.self) }
    @Test func gemmDouble() throws { try checkGemm(Double.self) }

    func checkGemv<T: BLASScalar>(_: T.Type) throws {
        var g = SeededGenerator(seed: 12)
        let (m, n) = (6, 4)
        for trans in Transpose.allCases {
            let a: [T] = random(m * n, &g)
            let xCount = trans == .none ? n : m, yCount = trans == .none ? m : n
            let x: [T] = random(xCount, &g)
            var y: [T] = random(yCount, &g)
            let y0 = y
            try y.withUnsafeMutableBufferPointer { yp in
                try T.gemv(trans, m: m, n: n, alpha: 2, a: a, lda: n, x: x, incx: 1, beta: 0.5,
                           y: yp.baseAddress!, incy: 1)
            }
            for i in 0..<yCount {
                var s = 0.0
                for j in 0..<xCount {
                    let aij = trans == .none ? a[i * n + j] : a[j * n + i]
                    s += Double(aij) * Double(x[j])
                }
                let expected = 2 * s + 0.5 * Double(y0[i])
                #expect(abs(Double(y[i]) - expected) <= 8 * Double(xCount) * Double(T.ulpOfOne) * (1 + abs(s)))
            }
        }
    }

    @Test func gemvFloat() throws { try checkGemv(Float.self) }
    @Test func gemvDouble() throws { try checkGemv(Double.self) }

    func checkSyrk<T: BLASScalar>(_: T.Type) throws {
        var g = SeededGenerator(seed: 13)
        let (n, k) = (5, 8)
        for trans in Transpose.allCases {
            let a: [T] = random(n * k, &g)
            var c = [T](repeating: 0, count: n * n)
            try c.withUnsafeMutableBufferPointer { cp in
                try T.syrk(trans, n: n, k: k, alpha: 1, a: a, lda: trans == .none ? k : n, beta: 0,
                           c: cp.baseAddress!, ldc: n)
            }
            for i in 0..<n {
                for j in i..<n {
                    var s = 0.0
                    for p in 0..<k {
                        s += trans == .none
                            ? Double(a[i * k + p]) * Double(a[j * k + p])
                            : Double(a[p * n + i]) * Double(a[p * n + j])
                    }
                    #expect(abs(Double(c[i * n + j]) - s) <= 4 * Double(k) * Double(T.ulpOfOne) * (1 + abs(s)))
                }
            }
        }
    }

    @Test func syrkFloat() throws { try checkSyrk(Float.self) }
    @Test func syrkDouble() throws { try checkSyrk(Double.self) }

    func checkLevel1<T: BLASScalar>(_: T.Type) throws {
        var g = SeededGenerator(seed: 14)
        let n = 37
        let x: [T] = random(n, &g)
        var y: [T] = random(n, &g)
        let y0 = y
        let dot = try T.dot(n: n, x: x, incx: 1, y: y, incy: 1)
        let naiveDot = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let scale = zip(x, y).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
        #expect(abs(Double(dot) - naiveDot) <= 2 * Double(n) * Double(T.ulpOfOne) * scale)
        let norm = try T.nrm2(n: n, x: x, incx: 1)
        let naiveNorm = x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(Double(norm) - naiveNorm) <= 2 * Double(n) * Double(T.ulpOfOne) * naiveNorm)
        try y.withUnsafeMutableBufferPointer { yp in
            try T.axpy(n: n, alpha: -1.5, x: x, incx: 1, y: yp.baseAddress!, incy: 1)
        }
        for i in 0..<n {
            let expected = Double(y0[i]) - 1.5 * Double(x[i])
            #expect(abs(Double(y[i]) - expected) <= 4 * Double(T.ulpOfOne) * (1 + abs(expected)))
        }
        var z = x
        try z.withUnsafeMutableBufferPointer { zp in try T.scal(n: n, alpha: 3, x: zp.baseAddress!, incx: 1) }
        for i in 0..<n { #expect(abs(Double(z[i]) - 3 * Double(x[i])) <= 4 * Double(T.ulpOfOne) * abs(3 * Double(x[i]))) }
        // Strided access: every second element.
        let strided = try T.dot(n: n / 2, x: x, incx: 2, y: y0, incy: 2)
        var naiveStrided = 0.0
        for i in 0..<(n / 2) { naiveStrided += Double(x[2 * i]) * Double(y0[2 * i]) }
        #expect(abs(Double(strided) - naiveStrided) <= 2 * Double(n) * Double(T.ulpOfOne) * scale)
    }

    @Test func level1Float() throws { try checkLevel1(Float.self) }
    @Test func level1Double() throws { try checkLevel1(Double.self) }

    @Test func sizesAreCheckedNotTruncated() {
        let x: [Double] = [1, 2, 3]
        #expect(throws: LinearAlgebraError.sizeOverflow(name: "n", value: Int(Int32.max) + 1)) {
            _ = try Double.dot(n: Int(Int32.max) + 1, x: x, incx: 1, y: x, incy: 1)
        }
        #expect(throws: LinearAlgebraError.self) {
            _ = try Double.nrm2(n: -1, x: x, incx: 1)
        }
        #expect(throws: LinearAlgebraError.self) {
            var c = [Double](repeating: 0, count: 4)
            try c.withUnsafeMutableBufferPointer { cp in
                // lda smaller than the row length of a row-major 2×2 matrix.
                try Double.gemm(.none, .none, m: 2, n: 2, k: 2, alpha: 1, a: x, lda: 1, b: x, ldb: 2,
                                beta: 0, c: cp.baseAddress!, ldc: 2)
            }
        }
    }

    @Test func threadCountIsExplicit() throws {
        try BLASThreads.set(2)
        #expect(BLASThreads.count == 2)
        try BLASThreads.set(1)
        #expect(BLASThreads.count == 1)
        #expect(throws: LinearAlgebraError.self) { try BLASThreads.set(0) }
        #expect(!BLASThreads.coreName.isEmpty)
    }

    @Test func matrixProductAndShapes() throws {
        let a = try Matrix<Double>(rows: 2, columns: 3, storage: [1, 2, 3, 4, 5, 6])
        let b = a.transposed()
        let c = try a.multiplied(by: b)
        #expect(c.storage == [14, 32, 32, 77])
        let d = try a.multiplied(by: a, transposeSelf: true)
        #expect(d.rows == 3 && d[0, 0] == 17 && d[2, 1] == 36)
        #expect(throws: LinearAlgebraError.self) { _ = try a.multiplied(by: a) }
        #expect(throws: LinearAlgebraError.self) { _ = try Matrix<Float>(rows: 2, columns: 2, storage: [1]) }
    }
}
