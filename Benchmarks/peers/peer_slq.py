"""Peer SLQ pipeline for the NTK spectral entropy: torch.func matvec + Lanczos (full reorthogonalization)
+ Rademacher probes, the way a researcher would write it today.

For a probe z in {-1, +1}^N (N = n k), m Lanczos steps on K = J J^T started at z/||z|| give the
tridiagonal T_m = U diag(theta) U^T; Gauss quadrature gives z^T f(K) z ~ ||z||^2 sum_j tau_j f(theta_j),
tau_j = U_{0j}^2 (Golub & Meurant 1997; Ubaru, Chen & Saad 2017). Per probe:
    t = N sum tau theta            (= z^T K z exactly)
    h = N sum tau theta log theta  (theta <= 0 contributes 0)
and over p probes T = mean t, H = mean h, entropy S = log T - H / T (the entropy of the trace-normalised
K, natural log), standard error by the delta method from the sample covariance of (t, h).
Lanczos runs in float64 (numpy) with classical Gram-Schmidt applied twice against the whole basis
(full reorthogonalization, O(N m^2) per probe); the matvec in --precision (torch). --block probes run
in lockstep, so each Lanczos step is one block matvec. Probes are added (in the order drawn) until the
running estimate is within --target-rtol of --exact-entropy (and at least --min-probes), or until
--max-probes / --max-seconds. Prints ONE JSON line: seconds, matvecs, probes, estimate.

Example: python peer_slq.py --spec W/model.json --weights W/weights_f32.safetensors --inputs W/inputs.npy \
           --target-rtol 0.01 --exact-entropy 2.6347 --depth 30
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--target-rtol", type=float, default=0.01)
    ap.add_argument("--exact-entropy", type=float, default=None,
                    help="reference entropy E; without it the run uses the whole probe budget")
    ap.add_argument("--depth", type=int, default=30, help="Lanczos steps per probe (default 30)")
    ap.add_argument("--block", type=int, default=1, help="probes run in lockstep (default 1)")
    ap.add_argument("--min-probes", type=int, default=1)
    ap.add_argument("--max-probes", type=int, default=200)
    ap.add_argument("--max-seconds", type=float, default=float("inf"))
    ap.add_argument("--precision", choices=("float", "double"), default="float")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    for name in ("depth", "block", "min_probes", "max_probes", "threads"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(a, name)}")
    if not a.target_rtol > 0:
        ap.error(f"--target-rtol must be > 0, got {a.target_rtol}")
    return a


def lanczos_block(op, z, depth: int):
    """Lanczos on each column of z (N x b) in lockstep with full reorthogonalization.

    Returns (alpha [m, b], beta [m, b], steps [b]) — steps[c] < m after an invariant subspace
    (breakdown: beta below 1e-12 times the largest coefficient seen), which makes the quadrature exact.
    Each step is one call op(Q_j) on an N x b block.
    """
    import numpy as np

    n, b = z.shape
    m = min(depth, n)
    basis = np.zeros((m + 1, n, b))
    alpha, beta = np.zeros((m, b)), np.zeros((m, b))
    steps = np.full(b, m)
    active = np.ones(b, dtype=bool)
    scale = np.zeros(b)
    basis[0] = z / np.linalg.norm(z, axis=0)
    calls = 0
    for j in range(m):
        w = op(basis[j])
        calls += 1
        coefficient_j = np.zeros(b)
        for _ in range(2):
            c = np.einsum("inb,nb->ib", basis[: j + 1], w)
            w = w - np.einsum("inb,ib->nb", basis[: j + 1], c)
            coefficient_j += c[j]
        alpha[j] = np.where(active, coefficient_j, 0.0)
        norm = np.linalg.norm(w, axis=0)
        scale = np.maximum(scale, np.maximum(np.abs(alpha[j]), norm))
        stop = active & (norm <= 1e-12 * np.maximum(scale, 1e-300))
        steps[stop] = j + 1
        active &= ~stop
        beta[j] = np.where(active, norm, 0.0)
        if j + 1 < m:
            basis[j + 1] = np.where(active, w / np.where(norm > 0, norm, 1.0), 0.0)
        if not active.any():
            break
    return alpha, beta, steps, calls


def quadrature(alpha, beta, steps: int, dimension: int) -> tuple[float, float]:
    """(t, h) = N sum tau f(theta) for f(x) = x and f(x) = x log x from one tridiagonal."""
    import numpy as np
    from scipy.linalg import eigh_tridiagonal

    theta, u = eigh_tridiagonal(alpha[:steps], beta[: steps - 1])
    tau = u[0] ** 2
    pos = theta > 0
    t = dimension * float(np.sum(tau * theta))
    h = dimension * float(np.sum(tau[pos] * theta[pos] * np.log(theta[pos])))
    return t, h


def entropy_estimate(ts, hs) -> tuple[float, float, float]:
    """(S, standard error, T) from per-probe (t, h); S = log T - H / T, delta-method error."""
    import numpy as np

    t, h = np.asarray(ts), np.asarray(hs)
    big_t, big_h = float(t.mean()), float(h.mean())
    s = math.log(big_t) - big_h / big_t
    if len(t) < 2:
        return s, float("nan"), big_t
    cov = np.cov(np.vstack([t, h])) / len(t)
    g = np.array([1.0 / big_t + big_h / big_t**2, -1.0 / big_t])
    return s, float(math.sqrt(max(g @ cov @ g, 0.0))), big_t


def main(argv=None) -> int:
    a = parse(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import numpy as np
    import torch
    import workload as wl

    try:
        w = wl.load(a.spec, a.weights, a.inputs)
    except wl.WorkloadError as e:
        print(json.dumps({"tool": "peer-slq", "status": "error", "error": str(e)}))
        return 2
    torch.set_num_threads(a.threads)
    dtype = torch.float64 if a.precision == "double" else torch.float32
    t0 = time.perf_counter()
    matvec, _, _ = wl.torch_ntk_matvec(w, dtype)
    setup = time.perf_counter() - t0
    dimension = w.n * w.output_dim

    def op(v: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return matvec(torch.from_numpy(np.ascontiguousarray(v)).to(dtype)).double().numpy()

    rng = np.random.default_rng(a.seed)
    ts, hs, history = [], [], []
    matvecs = 0
    status = "budget_exhausted"
    start = time.perf_counter()
    seconds_at_stop = None
    matvecs_at_stop = None
    while len(ts) < a.max_probes and status != "converged":
        if time.perf_counter() - start > a.max_seconds:
            status = "time_budget_exhausted"
            break
        b = min(a.block, a.max_probes - len(ts))
        z = rng.choice(np.array([-1.0, 1.0]), size=(dimension, b))
        alpha, beta, steps, calls = lanczos_block(op, z, a.depth)
        matvecs += calls * b
        elapsed = time.perf_counter() - start
        for c in range(b):
            t, h = quadrature(alpha[:, c], beta[:, c], int(steps[c]), dimension)
            ts.append(t)
            hs.append(h)
            s, se, _ = entropy_estimate(ts, hs)
            history.append(s)
            if (a.exact_entropy is not None and len(ts) >= a.min_probes
                    and abs(s - a.exact_entropy) <= a.target_rtol * abs(a.exact_entropy)):
                status = "converged"
                seconds_at_stop = elapsed
                # probes of this block past the stopping one were computed but are not counted.
                matvecs_at_stop = matvecs - calls * (b - c - 1)
                break
    seconds = time.perf_counter() - start
    s, se, trace = entropy_estimate(ts, hs)
    out = {"tool": "peer-slq", "framework": "torch", "status": status, "estimate": s, "standard_error": se,
           "trace_estimate": trace, "exact_entropy": a.exact_entropy,
           "relative_error": (abs(s - a.exact_entropy) / abs(a.exact_entropy)) if a.exact_entropy else None,
           "target_rtol": a.target_rtol, "probes": len(ts), "depth": a.depth, "block": a.block,
           "matvecs": matvecs_at_stop if matvecs_at_stop is not None else matvecs, "matvecs_computed": matvecs,
           "seconds": seconds_at_stop if seconds_at_stop is not None else seconds, "seconds_total": seconds,
           "seconds_setup": setup, "precision": a.precision, "threads": a.threads, "n": w.n, "k": w.output_dim,
           "dimension": dimension, "width": w.width, "parameter_count": w.parameter_count, "seed": a.seed,
           "running_estimates": history[-50:], "versions": {"torch": torch.__version__, "numpy": np.__version__},
           "machine": wl.machine_info()}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
