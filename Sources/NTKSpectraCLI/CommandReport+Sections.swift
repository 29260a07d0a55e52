import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra
import NTKFormats

/// The reports of the commands: every public field name of the tool's JSON, by command.
extension CommandReport {
    /// The reference code's conventions (`--output-reduction`, `--normalize`), in every kernel report.
    public static func conventionFields(_ c: SpectrumConventions) -> [String: JSONValue] {
        ["output_reduction": .string(c.outputReduction.rawValue), "normalization": .string(c.normalization.rawValue)]
    }

    /// `estimate`: the collective variables (`CollectiveVariables.fields`) and the conventions.
    static func estimate(_ estimate: CollectiveVariables, kind: KernelKind, conventions: SpectrumConventions) -> CommandReport {
        var report = CommandReport(title: "Estimated NTK (\(kind.rawValue) kernel)", fields: estimate.fields)
        report.add(conventionFields(conventions))
        return report
    }

    /// `validate`: the estimate's report and its comparison with the exact spectrum
    /// (`CollectiveVariables.comparisonFields`).
    static func validation(_ estimate: CollectiveVariables, exact: ExactNTK.Result, kind: KernelKind,
                           conventions: SpectrumConventions) -> CommandReport {
        var report = Self.estimate(estimate, kind: kind, conventions: conventions)
        report.title = "Estimate vs exact (\(kind.rawValue) kernel)"
        report.update(estimate.comparisonFields(exact: exact))
        return report
    }

    /// `exact`: the dense spectrum's statistics (public interface: `trace`, `entropy`,
    /// `dimension`, `parameter_count`, `n`, `outputs` and more) and the conventions.
    static func exact(_ result: ExactNTK.Result, parameterCount: Int, outputs: Int, examples: Int, kind: KernelKind,
                      conventions: SpectrumConventions) -> CommandReport {
        let s = result.statistics
        var report = CommandReport(title: "Exact NTK (\(kind.rawValue) kernel)", fields: [
            "trace": .number(s.trace),
            "trace_per_sample": .number(s.trace / Double(examples)),
            "trace_mean_diagonal": .number(s.trace / Double(max(s.dimension, 1))),
            "entropy": .number(s.entropy),
            "entropy_normalized": .number(s.normalizedEntropy),
            "effective_rank": .number(s.effectiveRank),
            "participation_ratio": .number(s.participationRatio),
            "top_eigenvalue": .number(s.topEigenvalue),
            "clipped_negative_mass": .number(s.clippedNegativeMass),
            "dimension": .integer(s.dimension),
            "parameter_count": .integer(parameterCount),
            "n": .integer(examples),
            "outputs": .integer(outputs),
            "kernel": .string(kind.rawValue),
            "route": .string(result.route.rawValue),
            "seconds": .number(result.cost.seconds),
            "eigensolver_seconds": .number(result.eigensolverSeconds),
            "eigensolver": .string(result.eigensolver),
            "precision": "double",
        ])
        report.add(conventionFields(conventions))
        return report
    }

    /// `exact --blocks`: the block-subsampled approximation of the reference code.
    static func blockSubsampled(entropy: MonteCarloEstimate, trace: MonteCarloEstimate, seconds: Double, blocks: Int,
                                blockSize: Int, examples: Int, parameterCount: Int, outputs: Int, kind: KernelKind,
                                conventions: SpectrumConventions) -> CommandReport {
        var report = CommandReport(title: "Block-subsampled NTK (\(blocks) blocks of \(blockSize))", fields: [
            "entropy": .number(entropy.value), "entropy_stderr": .number(entropy.standardError),
            "trace": .number(trace.value), "trace_stderr": .number(trace.standardError),
            "blocks": .integer(blocks), "block_size": .integer(blockSize), "n": .integer(examples),
            "outputs": .integer(outputs), "parameter_count": .integer(parameterCount),
            "dimension": .integer(kind.dimension(examples: blockSize, outputs: outputs)),
            "kernel": .string(kind.rawValue), "seconds": .number(seconds),
        ])
        report.add(conventionFields(conventions))
        return report
    }

    /// `density`: the grid's summary, the route, and where the exact eigenvalues went (if computed).
    static func density(_ density: SpectralDensity, method: String, dimension: Int, out: String, plan: RoutePlanner.Plan,
                        exactEigenvalues: String?) -> CommandReport {
        var fields: [String: JSONValue] = [
            "method": .string(method), "points": .integer(density.points.count),
            "integral": .number(density.integral), "matvecs": .integer(density.cost.applications),
            "seconds": .number(density.cost.seconds), "dimension": .integer(dimension), "out": .string(out),
            "route": .string(plan.route.rawValue), "route_reason": .string(plan.reason),
            "predicted_seconds": .number(plan.chosen.seconds), "predicted_bytes": .integer(plan.chosen.bytes),
        ]
        if let exactEigenvalues { fields["exact_eigenvalues"] = .string(exactEigenvalues) }
        return CommandReport(title: "NTK spectral density (\(method))", fields: fields)
    }

    /// `bench matvec`: block-product throughput against a forward pass.
    static func matvecThroughput(secondsPerBlock perBlock: Double, forwardSeconds: Double, setupSeconds: Double, block: Int,
                                 precision: String, operatorName: String, operatorReason: String, examples: Int,
                                 outputs: Int, parameterCount: Int, dimension: Int, repeats: Int) -> CommandReport {
        CommandReport(title: "NTK matvec throughput", fields: [
            "matvecs_per_second": .number(Double(block) / perBlock),
            "seconds_per_matvec": .number(perBlock / Double(block)),
            "seconds_per_block": .number(perBlock),
            "forward_seconds": .number(forwardSeconds),
            "matvec_over_forward": .number(perBlock / Double(block) / forwardSeconds),
            "setup_seconds": .number(setupSeconds),
            "openblas_core": .string(BLASThreads.coreName),
            "threads": .integer(BLASThreads.count),
            "block": .integer(block),
            "precision": .string(precision),
            "operator": .string(operatorName),
            "operator_reason": .string(operatorReason),
            "n": .integer(examples), "outputs": .integer(outputs),
            "parameter_count": .integer(parameterCount), "dimension": .integer(dimension),
            "repeats": .integer(repeats),
        ])
    }

    /// `bench entropy`: cost of the estimate at the requested tolerance, and its errors
    /// against the exact spectrum when that was computed.
    static func entropyCost(_ estimate: CollectiveVariables, seconds: Double, requestedRtol: Double,
                            exact: ExactNTK.Result?) -> CommandReport {
        var report = CommandReport(title: "Entropy cost to accuracy", fields: [
            "entropy": .number(estimate.entropy.value), "entropy_stderr": .number(estimate.entropy.standardError),
            "trace": .number(estimate.trace), "matvecs": .integer(estimate.matvecs),
            "data_passes": .integer(estimate.dataPasses), "seconds": .number(seconds),
            "requested_rtol": .number(requestedRtol), "deflation_rank": .integer(estimate.deflationRank),
            "probes": .integer(estimate.probes), "dimension": .integer(estimate.dimension),
            "openblas_core": .string(BLASThreads.coreName), "threads": .integer(BLASThreads.count),
            "precision": .string(estimate.precision), "route": .string(estimate.route.rawValue),
            "route_reason": .string(estimate.routeReason),
            "predicted_seconds": estimate.predictedSeconds.map { .number($0) } ?? .null,
            "predicted_bytes": estimate.predictedBytes.map { .integer($0) } ?? .null,
            "peak_resident_bytes": estimate.peakResidentBytes.map { .integer($0) } ?? .null,
        ])
        if let exact {
            report.update(estimate.comparisonFields(exact: exact))
            report["speedup_over_exact"] = .number(exact.cost.seconds / max(estimate.seconds, 1e-12))
        }
        return report
    }

    /// What a `train` run did: the test loss, the monitor's records, costs and threads, the checkpoints.
    struct TrainingSummary {
        var testLoss: Double
        var testAccuracy: Double?
        var records: [[String: JSONValue]]
        /// Records kept from the run this one resumed.
        var keptRecords: Int
        var trainingSeconds: Double
        var monitorSeconds: Double
        var recordsPath: String
        var parameterCount: Int
        var skipped: Int
        var skippedWhileBusy: Int
        var asynchronous: Bool
        var warmStart: Bool
        var blasThreads: Int
        var overheadBudget: Double?
        var checkpointPath: String
        var checkpointStep: Int?
        var checkpointsWritten: Int
        var checkpointSeconds: Double
        var resumedFromStep: Int?
    }

    /// `train`'s summary.
    static func training(_ s: TrainingSummary) -> CommandReport {
        var fields: [String: JSONValue] = [
            "test_loss": .number(s.testLoss), "records": .integer(s.records.count),
            "training_seconds": .number(s.trainingSeconds), "monitor_seconds": .number(s.monitorSeconds),
            "monitor_overhead": .number(s.trainingSeconds > 0 ? s.monitorSeconds / s.trainingSeconds : 0),
            "records_path": .string(s.recordsPath),
            "parameter_count": .integer(s.parameterCount),
            "monitor_skipped": .integer(s.skipped),
            "monitor_skipped_busy": .integer(s.skippedWhileBusy),
            "monitor_async": .bool(s.asynchronous),
            "monitor_warm_start": .bool(s.warmStart),
            "monitor_warm_started_records": .integer(s.records.filter { $0["warm_started"] == .bool(true) }.count),
            "blas_threads_training": .integer(s.blasThreads),
            "blas_threads_monitor": .integer(s.blasThreads),
            "openblas_core": .string(BLASThreads.coreName),
            "monitor_overhead_budget": s.overheadBudget.map { .number($0) } ?? .null,
            "routes": .object(Dictionary(grouping: s.records.compactMap { $0["route"]?.stringValue }, by: { $0 })
                .mapValues { .integer($0.count) }),
            "checkpoint_path": .string(s.checkpointPath),
            "checkpoint_step": s.checkpointStep.map { .integer($0) } ?? .null,
            "checkpoints_written": .integer(s.checkpointsWritten),
            "checkpoint_seconds": .number(s.checkpointSeconds),
            "resumed_from_step": s.resumedFromStep.map { .integer($0) } ?? .null,
            "records_total": .integer(s.keptRecords + s.records.count),
        ]
        if let accuracy = s.testAccuracy { fields["test_accuracy"] = .number(accuracy) }
        return CommandReport(title: "Training run", fields: fields)
    }

    /// `ensemble`: one grid cell's settings (its snapshots are added as `initial` and `final`).
    static func ensembleCell(width: Int, gamma0: Double?, parameterization: String, hiddenLayers: Int, activation: String,
                             seeds: Int, steps: Int, learningRate: Double, kernelScale: Double, parameterCount: Int,
                             seconds: Double, workers: Int) -> [String: JSONValue] {
        [
            "width": .integer(width), "gamma0": gamma0.map { .number($0) } ?? .null,
            "parameterization": .string(parameterization), "hidden_layers": .integer(hiddenLayers),
            "activation": .string(activation), "seeds": .integer(seeds), "steps": .integer(steps),
            "learning_rate": .number(learningRate), "kernel_scale": .number(kernelScale),
            "parameter_count": .integer(parameterCount), "seconds": .number(seconds), "workers": .integer(workers),
        ]
    }

    /// `ensemble`: the fields of one snapshot: scalar moments, entry means and variances, predictions.
    static func ensembleSnapshot(_ s: NetworkEnsemble.Snapshot) -> [String: JSONValue] {
        func matrix(_ m: Matrix<Double>) -> JSONValue {
            .array((0..<m.rows).map { i in .array((0..<m.columns).map { j in .number(m[i, j]) }) })
        }
        let k = s.kernel
        return [
            "trace_mean": .number(k.trace.mean), "trace_variance": .number(k.trace.variance),
            "entropy_mean": .number(k.entropy.mean), "entropy_variance": .number(k.entropy.variance),
            "top_eigenvalues_mean": .array(k.topEigenvalues.map { .number($0.mean) }),
            "top_eigenvalues_variance": .array(k.topEigenvalues.map { .number($0.variance) }),
            "kernel_mean": matrix(k.mean), "kernel_variance": matrix(k.variance),
            "mean_entry_variance": .number(k.meanEntryVariance), "signal_to_noise": .number(k.signalToNoise),
            "prediction_mean": .array(s.predictions.mean.map { .number($0) }),
            "prediction_variance": .array(s.predictions.variance.map { .number($0) }),
            "loss_mean": .number(s.loss.mean), "loss_variance": .number(s.loss.variance),
        ]
    }

    /// `ensemble`: the document (cells and data sizes); its table is the per-cell summary lines.
    static func ensemble(cells: [JSONValue], inputs: Int, inputDimension: Int, testInputs: Int, table: String) -> CommandReport {
        CommandReport(title: "Kernel ensembles", fields: [
            "cells": .array(cells), "inputs": .integer(inputs), "input_dimension": .integer(inputDimension),
            "test_inputs": .integer(testInputs),
        ], tableOverride: table)
    }
}
