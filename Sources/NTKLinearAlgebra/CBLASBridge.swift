import COpenBLAS

extension Transpose {
    @usableFromInline
    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

@inlinable
func checkedIncrement(_ inc: Int, _ name: String) throws(LinearAlgebraError) -> Int32 {
    guard inc != 0, let value = Int32(exactly: inc) else {
        throw .invalidSize(name: name, value: inc, expected: "a non-zero increment within Int32")
    }
    return value
}

/// Leading dimension check for row-major storage: ld ≥ max(1, columns).
@inlinable
func checkedLeading(_ ld: Int, columns: Int, _ name: String) throws(LinearAlgebraError) -> Int32 {
    guard ld >= max(1, columns) else {
        throw .invalidSize(name: name, value: ld, expected: "≥ max(1, \(columns)) for row-major storage")
    }
    return try cInt(ld, name)
}
