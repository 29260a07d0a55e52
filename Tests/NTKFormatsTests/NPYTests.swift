import Foundation
import Testing
@testable import NTKFormats
import NTKLinearAlgebra

/// URL of a fixture written by `Fixtures/make_fixtures.py` with real NumPy.
private func fixture(_ name: String) throws -> URL {
    let directory = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
    return directory.appendingPathComponent(name)
}

/// A fresh temporary directory for files a test writes.
private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("NPYTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Hand-built `.npy` bytes: magic, version, little-endian header length, header, payload.
private func npyBytes(
    header: String, major: UInt8 = 1, payload: [UInt8], magic: [UInt8] = NPY.magic
) -> Data {
    var bytes = magic + [major, 0]
    let h = Array(header.utf8)
    let fieldSize = major == 1 ? 2 : 4
    for k in 0..<fieldSize { bytes.append(UInt8(truncatingIfNeeded: h.count >> (8 * k))) }
    return Data(bytes + h + payload)
}

/// Little-endian bytes of Doubles.
private func doubleBytes(_ values: [Double]) -> [UInt8] {
    values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } }
}

private let f8Header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n"

/// Expects `body` to throw exactly `expected`.
private func expectError(_ expected: NPYError, _ body: () throws(NPYError) -> Void) {
    do {
        try body()
        Issue.record("expected \(expected), nothing was thrown")
    } catch {
        #expect(error == expected)
        #expect(!error.description.isEmpty)
    }
}

@Suite("NPY")
struct NPYTests {
    // MARK: Files written by NumPy

    @Test func readsNumpyFloat32() throws {
        let a = try NPY.read(fixture("f4_2x3.npy"))
        #expect(a.shape == [2, 3])
        #expect(a.dtype == .float32)
        // i/4 − 1/2 is exact in binary; allow one Float ulp of the magnitude anyway.
        for i in 0..<6 {
            let expected = Double(i) / 4 - 0.5
            #expect(abs(a.values[i] - expected) <= Double(Float.ulpOfOne) * max(1, abs(expected)))
        }
        let m: Matrix<Float> = try a.matrix()
        #expect(m.rows == 2 && m.columns == 3)
        #expect(abs(m[1, 2] - 0.75) <= Float.ulpOfOne)
    }

    @Test func readsNumpyFloat64ThreeDimensional() throws {
        let a = try NPY.read(fixture("f8_2x3x4.npy"))
        #expect(a.shape == [2, 3, 4])
        #expect(a.dtype == .float64)
        for i in 0..<24 {
            let expected = Double(i) * 0.1 - 1.0
            #expect(abs(a.values[i] - expected) <= 4 * Double.ulpOfOne * max(1, abs(expected)))
        }
        // First dimension → rows, the rest flattened in C order.
        let m: Matrix<Double> = try a.matrix()
        #expect(m.rows == 2 && m.columns == 12)
        #expect(abs(m[1, 5] - (17 * 0.1 - 1.0)) <= 4 * Double.ulpOfOne)
    }

    @Test func readsNumpyIntegersAsNumbers() throws {
        let i8 = try NPY.read(fixture("i8_5.npy"))
        #expect(i8.dtype == .int64 && i8.shape == [5])
        #expect(i8.values.map { Int64($0) } == [-3, 0, 7, 1 << 40, -(1 << 52)])
        let i4 = try NPY.read(fixture("i4_2x2.npy"))
        #expect(i4.dtype == .int32 && i4.shape == [2, 2])
        #expect(i4.values.map { Int64($0) } == [-1, 2, Int64(Int32.max), Int64(Int32.min)])
        let u1 = try NPY.read(fixture("u1_3x4.npy"))
        #expect(u1.dtype == .uint8 && u1.shape == [3, 4])
        #expect(u1.values.map { Int($0) } == (0..<12).map { $0 * 20 })
        let column: Matrix<Double> = try i8.matrix()
        #expect(column.rows == 5 && column.columns == 1)
    }

    @Test func readsScalarEmptyAndLaterVersions() throws {
        let scalar = try NPY.read(fixture("scalar_f8.npy"))
        #expect(scalar.shape == [] && scalar.values.count == 1)
        #expect(abs(scalar.values[0] - 3.25) <= Double.ulpOfOne * 4)
        let m: Matrix<Double> = try scalar.matrix()
        #expect(m.rows == 1 && m.columns == 1)

        let empty = try NPY.read(fixture("empty_0x3_f4.npy"))
        #expect(empty.shape == [0, 3] && empty.values.isEmpty)
        let e: Matrix<Float> = try empty.matrix()
        #expect(e.rows == 0 && e.columns == 3)

        let v2 = try NPY.read(fixture("v2_f8.npy"))
        let v3 = try NPY.read(fixture("v3_f4.npy"))
        #expect(v2.shape == [5] && v3.shape == [4])
        for i in 0..<5 { #expect(abs(v2.values[i] - 1.5 * Double(i)) <= 8 * Double.ulpOfOne) }
        for i in 0..<4 { #expect(abs(v3.values[i] - 1.5 * Double(i)) <= 8 * Double(Float.ulpOfOne)) }
    }

    @Test func encodingMatchesNumpyByteForByte() throws {
        // Same header text, padding and data layout as np.save.
        let values = (0..<6).map { Float($0) / 4 - 0.5 }
        let ours = try NPY.encode(shape: [2, 3], values: values)
        let numpys = try Data(contentsOf: fixture("f4_2x3.npy"))
        #expect(ours == numpys)
        #expect(ours.count % 64 == 24)  // 128-byte prefix + 6·4 data bytes.
    }

    // MARK: Round trips

    @Test func roundTripFloatAndDouble() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var generator = SeededGenerator(seed: 11)
        let doubles = (0..<60).map { _ in generator.nextGaussian() * 1e3 }
        let floats = doubles.map { Float($0) }
        let url = directory.appendingPathComponent("x.npy")

        try NPY.write(shape: [3, 4, 5], values: doubles, to: url)
        let d = try NPY.read(url)
        #expect(d.shape == [3, 4, 5] && d.dtype == .float64)
        // Lossless: identical bit patterns.
        #expect(d.values.map(\.bitPattern) == doubles.map(\.bitPattern))

        try NPY.write(shape: [60], values: floats, to: url)  // overwrites atomically
        let f = try NPY.read(url)
        #expect(f.shape == [60] && f.dtype == .float32)
        #expect(f.values.map { Float($0).bitPattern } == floats.map(\.bitPattern))

        let matrix = try Matrix<Double>(rows: 2, columns: 3, storage: [1, 2, 3, 4, 5, 6])
        try NPY.write(matrix, to: url)
        #expect(try NPY.read(url).matrix(Double.self).storage.map(\.bitPattern)
                == matrix.storage.map(\.bitPattern))
        // Nothing but the final file remains: the temporary file was renamed away.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["x.npy"])
    }

    @Test func roundTripLongHeaderUsesVersion2() throws {
        // 30,000 dimensions of size 1 ("1, " each) make a header longer than 65535 bytes.
        let shape = [Int](repeating: 1, count: 30_000)
        let data = try NPY.encode(shape: shape, values: [2.5] as [Double])
        #expect(data[6] == 2)
        let a = try NPY.read(data: data)
        #expect(a.shape == shape && abs(a.values[0] - 2.5) <= Double.ulpOfOne * 4)
    }

    @Test func writeRefusesShapeMismatch() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("bad.npy")
        expectError(.shapeMismatch(file: url.path, shape: [2, 2], count: 3)) { () throws(NPYError) in
            try NPY.write(shape: [2, 2], values: [1, 2, 3] as [Float], to: url)
        }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    @Test func writeIntoMissingDirectoryIsIOError() throws {
        let url = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)/a.npy")
        do {
            try NPY.write(shape: [1], values: [1] as [Double], to: url)
            Issue.record("expected an I/O error")
        } catch {
            guard case .io(let file, _) = error else {
                Issue.record("expected .io, got \(error)")
                return
            }
            #expect(file == url.path)
        }
    }

    // MARK: Malformed input, one case per test

    @Test func badMagic() {
        let data = npyBytes(header: f8Header, payload: doubleBytes([1, 2]), magic: Array("XNUMPY".utf8))
        expectError(.badMagic(file: "m")) { () throws(NPYError) in _ = try NPY.read(data: data, source: "m") }
        expectError(.badMagic(file: "m")) { () throws(NPYError) in _ = try NPY.read(data: Data([0x93]), source: "m") }
    }

    @Test func unsupportedVersion() {
        let data = npyBytes(header: f8Header, major: 4, payload: doubleBytes([1, 2]))
        expectError(.unsupportedVersion(file: "v", major: 4, minor: 0)) { () throws(NPYError) in
            _ = try NPY.read(data: data, source: "v")
        }
    }

    @Test func unsupportedDType() throws {
        let complex = npyBytes(
            header: "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }\n",
            payload: [UInt8](repeating: 0, count: 16))
        expectError(.unsupportedDType(file: "c", descr: "'<c16'")) { () throws(NPYError) in
            _ = try NPY.read(data: complex, source: "c")
        }
        let path = try fixture("bigendian_f8.npy").path
        expectError(.unsupportedDType(file: path, descr: "'>f8'")) { () throws(NPYError) in
            _ = try NPY.read(URL(fileURLWithPath: path))
        }
        let structured = npyBytes(
            header: "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }\n",
            payload: doubleBytes([1]))
        expectError(.unsupportedDType(file: "s", descr: "structured dtype")) { () throws(NPYError) in
            _ = try NPY.read(data: structured, source: "s")
        }
    }

    @Test func fortranOrder() throws {
        let path = try fixture("fortran_f8.npy").path
        expectError(.fortranOrder(file: path)) { () throws(NPYError) in
            _ = try NPY.read(URL(fileURLWithPath: path))
        }
    }

    @Test func truncatedData() {
        let data = npyBytes(header: f8Header, payload: doubleBytes([1]))  // 8 of 16 bytes
        let headerEnd = 10 + f8Header.utf8.count
        expectError(.truncated(file: "t", expectedBytes: headerEnd + 16, actualBytes: headerEnd + 8)) {
            () throws(NPYError) in _ = try NPY.read(data: data, source: "t")
        }
    }

    @Test func truncatedHeader() {
        let full = npyBytes(header: f8Header, payload: [])
        let cut = full.prefix(30)
        expectError(.truncated(file: "h", expectedBytes: full.count, actualBytes: 30)) {
            () throws(NPYError) in _ = try NPY.read(data: Data(cut), source: "h")
        }
    }

    @Test func trailingData() {
        let data = npyBytes(header: f8Header, payload: doubleBytes([1, 2, 3]))
        expectError(.trailingData(file: "x", expectedBytes: 16, actualBytes: 24)) { () throws(NPYError) in
            _ = try NPY.read(data: data, source: "x")
        }
    }

    @Test(arguments: [
        "{'descr': '<f8', 'fortran_order': False}\n",  // missing shape
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'extra': 1}\n",  // extra key
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)\n",  // unterminated
        "{'descr': '<f8', 'fortran_order': 'no', 'shape': (2,), }\n",  // not a bool
        "{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }\n",  // negative dimension
        "{'descr': '<f8', 'fortran_order': False, 'shape': [2], }\n",  // list, not tuple
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), } junk\n",  // trailing text
        "['descr', '<f8']\n",  // not a dictionary
    ])
    func malformedHeader(header: String) {
        let data = npyBytes(header: header, payload: doubleBytes([1, 2]))
        do {
            _ = try NPY.read(data: data, source: "bad")
            Issue.record("expected a malformed-header error for \(header)")
        } catch {
            guard case .malformedHeader(let file, let reason) = error else {
                Issue.record("expected .malformedHeader, got \(error)")
                return
            }
            #expect(file == "bad" && !reason.isEmpty)
        }
    }

    @Test func nonFiniteWhenFiniteRequired() throws {
        let data = npyBytes(header: f8Header, payload: doubleBytes([1, .nan]))
        // Accepted by default…
        #expect(try NPY.read(data: data).values[1].isNaN)
        // …refused on request, naming the element.
        do {
            _ = try NPY.read(data: data, source: "n", requireFinite: true)
            Issue.record("expected a non-finite error")
        } catch {
            guard case .nonFinite(let file, let index, let value) = error else {
                Issue.record("expected .nonFinite, got \(error)")
                return
            }
            #expect(file == "n" && index == 1 && value.isNaN)
        }
        let inf = npyBytes(header: f8Header, payload: doubleBytes([.infinity, 1]))
        expectError(.nonFinite(file: "i", index: 0, value: .infinity)) { () throws(NPYError) in
            _ = try NPY.read(data: inf, source: "i", requireFinite: true)
        }
    }

    @Test func floatOverflowInMatrixConversion() throws {
        let a = try NPYArray(shape: [2], values: [1, 1e300], dtype: .float64, source: "o")
        expectError(.notRepresentable(file: "o", index: 1, value: "1e+300", type: "float32")) {
            () throws(NPYError) in _ = try a.matrix(Float.self)
        }
    }

    @Test func missingFileIsIOError() {
        let url = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString).npy")
        do {
            _ = try NPY.read(url)
            Issue.record("expected an I/O error")
        } catch {
            guard case .io(let file, _) = error else {
                Issue.record("expected .io, got \(error)")
                return
            }
            #expect(file == url.path)
        }
    }
}

@Suite("Hardening: .npy headers")
struct NPYHardeningTests {
    @Test func deeplyNestedHeaderIsAnErrorNotAStackOverflow() {
        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': " + String(repeating: "(", count: 50_000) + "}\n"
        let e = #expect(throws: NPYError.self) { _ = try NPY.read(data: npyBytes(header: header, major: 2, payload: []), source: "deep.npy") }
        #expect(e?.description.hasPrefix("deep.npy: malformed .npy header: nesting deeper than 16 levels") == true)
    }

    @Test func headerLengthIsBounded() {
        var bytes = NPY.magic + [2, 0]
        withUnsafeBytes(of: UInt32(2_000_000).littleEndian) { bytes += $0 }
        bytes += [UInt8](repeating: 0x20, count: 2_000_000)
        #expect(throws: NPYError.malformedHeader(file: "long.npy", reason: "header length 2000000 bytes exceeds the limit of 1048576 bytes")) {
            _ = try NPY.read(data: Data(bytes), source: "long.npy")
        }
    }

    @Test func hugeShapeIsRefusedNotAllocated() {
        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }\n"
        #expect(throws: NPYError.self) { _ = try NPY.read(data: npyBytes(header: header, payload: []), source: "huge.npy") }
        let exact = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }\n"
        #expect(throws: NPYError.truncated(file: "t.npy", expectedBytes: 10 + exact.utf8.count + 8_000_000_000_000, actualBytes: 10 + exact.utf8.count)) {
            _ = try NPY.read(data: npyBytes(header: exact, payload: []), source: "t.npy")
        }
    }
}
