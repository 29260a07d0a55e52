import Foundation
import Testing
@testable import NTKDatasets

/// A fresh temporary directory for files a test writes; the caller removes it.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("NTKDatasetsTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `body`, expecting it to throw an error of its typed-throws type that `matches` accepts,
/// with a non-empty description (on one line when `oneLine`).
func expectTypedError<Failure: Error & CustomStringConvertible>(
    _ what: String, _ body: () throws(Failure) -> Void, matches: (Failure) -> Bool, oneLine: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        try body()
        Issue.record("expected an error: \(what)", sourceLocation: sourceLocation)
    } catch {
        #expect(matches(error), "\(what): got \(error)", sourceLocation: sourceLocation)
        #expect(!error.description.isEmpty, sourceLocation: sourceLocation)
        if oneLine { #expect(!error.description.contains("\n"), sourceLocation: sourceLocation) }
    }
}

/// Runs `body`, expecting it to throw a `DatasetError` that `matches` accepts.
func expectDatasetError(
    _ what: String, _ body: () throws(DatasetError) -> Void, matches: (DatasetError) -> Bool,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectTypedError(what, body, matches: matches, sourceLocation: sourceLocation)
}
