"""Exact NTK spectrum with neural-tangents' empirical_ntk_fn (the peer of NTKSpectra's exact path).

For each requested implementation of nt.empirical_ntk_fn (trace_axes=() -> the full (n*k) x (n*k)
kernel, reordered sample-major i*k + c; vmap_axes=0):
    0 = JACOBIAN_CONTRACTION   (nt enum value 1)
    1 = NTK_VECTOR_PRODUCTS    (nt enum value 2)
    2 = STRUCTURED_DERIVATIVES (nt enum value 3)
it times the jitted kernel build (first call = trace + compile + run, then a second, steady-state call)
and numpy.linalg.eigvalsh (float64) separately, and reports trace and entropy (eigenvalues clipped at 0,
p = lambda / sum lambda, natural log) as ONE JSON line {"tool": "neural-tangents", ..., "results": [...]}.

Each implementation runs in its own child process: one that exceeds --timeout seconds is killed and
reported as "timeout"; one the kernel kills (SIGKILL, the OOM killer) or that raises an out-of-memory
error is reported as "oom". Before starting, the peak memory is estimated (see estimated_bytes); above
--memory-limit-gb the run is not started and reported as "skipped_memory" (this machine is shared;
--force runs it anyway). --batch-size B wraps the kernel function in nt.batch (blocks of B x B examples),
the documented way to fit large kernels in memory.

Needs the neural-tangents venv (requirements-nt.txt). Example:
    .venv-nt/bin/python peer_exact.py --spec W/model.json --weights W/weights_f64.safetensors \
        --inputs W/inputs.npy --implementation 2 --timeout 600
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

NAMES = {0: "JACOBIAN_CONTRACTION", 1: "NTK_VECTOR_PRODUCTS", 2: "STRUCTURED_DERIVATIVES"}


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--implementation", default="2", choices=("0", "1", "2", "all"))
    ap.add_argument("--precision", choices=("float", "double"), default="double")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per implementation (default 600)")
    ap.add_argument("--memory-limit-gb", type=float, default=12.0)
    ap.add_argument("--force", action="store_true", help="run even above --memory-limit-gb")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vmap-axes", choices=("0", "none"), default="0",
                    help="empirical_ntk_fn vmap_axes: 0 (examples independent, the default) or none")
    ap.add_argument("--batch-size", type=int, default=0,
                    help="wrap the kernel in nt.batch with this many examples per block (0: no batching); "
                         "must divide n")
    ap.add_argument("--save-eigenvalues", default=None, help="write the eigenvalues (ascending) to this .npy "
                    "(suffixed by the implementation index when several run)")
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.timeout <= 0:
        ap.error(f"--timeout must be > 0, got {a.timeout}")
    if a.batch_size < 0:
        ap.error(f"--batch-size must be >= 0, got {a.batch_size}")
    if a.threads < 1:
        ap.error(f"--threads must be >= 1, got {a.threads}")
    return a


def estimated_bytes(impl: int, n: int, k: int, params: int, width: int, scalar: int, batch: int) -> int:
    """Rough peak for one (batch x batch) block of examples, plus the assembled kernel.

    Jacobian-based implementations hold J for both blocks (2 b k x P); STRUCTURED_DERIVATIVES was
    measured to allocate about (b k)^2 x width scalars in one buffer (43 GB for b k = 2560, width 1024,
    float64, neural-tangents 0.6.5 with jax 0.4.23), so that is the model used here. All hold K (n k)^2
    and the eigvalsh workspace."""
    b = batch or n
    kernel = 3 * (n * k) ** 2 * scalar
    if impl in (0, 1):
        return 2 * b * k * params * scalar + kernel
    return (b * k) ** 2 * max(width, 1) * scalar + kernel


def worker(a) -> dict:
    """Runs one implementation in this process; returns the result dict."""
    import numpy as np
    import workload as wl
    wl.enable_jax_x64(a.precision)
    import jax
    import jax.numpy as jnp
    import neural_tangents as nt

    impl = a.worker
    w = wl.load(a.spec, a.weights, a.inputs)
    dtype = jnp.float64 if a.precision == "double" else jnp.float32
    f = wl.jax_forward(w.spec)
    params = {name: jnp.asarray(v, dtype=dtype) for name, v in w.weights.items()}
    x = jnp.asarray(w.inputs, dtype=dtype)
    n, k = w.n, w.output_dim
    enum = [nt.NtkImplementation.JACOBIAN_CONTRACTION, nt.NtkImplementation.NTK_VECTOR_PRODUCTS,
            nt.NtkImplementation.STRUCTURED_DERIVATIVES][impl]
    kernel_fn = nt.empirical_ntk_fn(f, trace_axes=(), vmap_axes=0 if a.vmap_axes == "0" else None,
                                    implementation=enum)
    if a.batch_size:
        # nt.batch computes the kernel in (batch x batch) blocks of examples; it jits each block itself.
        kernel_fn = nt.batch(kernel_fn, batch_size=a.batch_size, store_on_device=False)
    else:
        kernel_fn = jax.jit(kernel_fn)

    t0 = time.perf_counter()
    kernel = kernel_fn(x, None, params).block_until_ready()
    first = time.perf_counter() - t0
    del kernel
    t0 = time.perf_counter()
    kernel = kernel_fn(x, None, params).block_until_ready()
    build = time.perf_counter() - t0
    # nt returns [n1, n2, k1, k2] for trace_axes=(); NTKSpectra's layout is [(n1 k1), (n2 k2)].
    dense = np.asarray(kernel, dtype=np.float64).transpose(0, 2, 1, 3).reshape(n * k, n * k)
    del kernel
    asym = float(np.abs(dense - dense.T).max() / max(np.abs(dense).max(), 1e-300))
    t0 = time.perf_counter()
    eig = np.linalg.eigvalsh(dense)
    seconds_eig = time.perf_counter() - t0
    if a.save_eigenvalues:
        path = a.save_eigenvalues
        if a.implementation == "all":
            root, ext = os.path.splitext(path)
            path = f"{root}_{impl}{ext or '.npy'}"
        np.save(path, eig)
    out = {"implementation": impl, "name": NAMES[impl], "status": "ok", "seconds_kernel_first_call": first,
           "seconds_kernel_build": build, "seconds_eigvalsh": seconds_eig,
           "seconds_total": build + seconds_eig, "relative_asymmetry": asym,
           "versions": {"neural_tangents": nt.__version__, "jax": jax.__version__, "numpy": np.__version__}}
    out.update(wl.spectrum_statistics(eig))
    return out


def run_child(a, impl: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--spec", a.spec, "--weights", a.weights, "--inputs", a.inputs,
           "--implementation", a.implementation, "--precision", a.precision, "--threads", str(a.threads),
           "--vmap-axes", a.vmap_axes, "--batch-size", str(a.batch_size), "--worker", str(impl)]
    if a.save_eigenvalues:
        cmd += ["--save-eigenvalues", a.save_eigenvalues]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=a.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"implementation": impl, "name": NAMES[impl], "status": "timeout", "timeout_seconds": a.timeout,
                "seconds_wall": time.perf_counter() - t0}
    wall = time.perf_counter() - t0
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if proc.returncode == 0 and lines:
        result = json.loads(lines[-1])
        result["seconds_wall_process"] = wall
        return result
    tail = stderr.strip().splitlines()[-3:]
    oom_words = ("RESOURCE_EXHAUSTED", "MemoryError", "Out of memory", "out of memory", "std::bad_alloc")
    if proc.returncode == -signal.SIGKILL:
        status, why = "oom", "killed by SIGKILL (the kernel's out-of-memory killer)"
    elif any(word in stderr for word in oom_words):
        status, why = "oom", "out-of-memory error"
    else:
        status, why = "error", f"exit code {proc.returncode}"
    return {"implementation": impl, "name": NAMES[impl], "status": status, "reason": why, "stderr_tail": tail,
            "seconds_wall": wall}


def main(argv=None) -> int:
    a = parse(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import workload as wl
    wl.set_xla_threads(a.threads)
    if a.worker is not None:
        print(json.dumps(worker(a)))
        return 0
    try:
        w = wl.load(a.spec, a.weights, a.inputs)
        if a.batch_size and w.n % a.batch_size:
            raise wl.WorkloadError(f"--batch-size {a.batch_size} does not divide the number of inputs n = {w.n}")
    except wl.WorkloadError as e:
        print(json.dumps({"tool": "neural-tangents", "status": "error", "error": str(e)}))
        return 2
    from workload import _walk_shapes
    _, _, widths = _walk_shapes(w.spec["layers"], list(w.spec["input_shape"]), "")
    scalar = 8 if a.precision == "double" else 4
    impls = [0, 1, 2] if a.implementation == "all" else [int(a.implementation)]
    results = []
    for impl in impls:
        need = estimated_bytes(impl, w.n, w.output_dim, w.parameter_count, max(widths), scalar, a.batch_size)
        if need > a.memory_limit_gb * 2**30 and not a.force:
            results.append({"implementation": impl, "name": NAMES[impl], "status": "skipped_memory",
                            "estimated_gb": need / 2**30, "memory_limit_gb": a.memory_limit_gb})
            continue
        r = run_child(a, impl)
        r["estimated_gb"] = need / 2**30
        results.append(r)
    print(json.dumps({"tool": "neural-tangents", "vmap_axes": a.vmap_axes, "batch_size": a.batch_size, "n": w.n, "k": w.output_dim, "dimension": w.n * w.output_dim,
                      "width": w.width, "parameter_count": w.parameter_count, "precision": a.precision,
                      "threads": a.threads, "results": results, "machine": wl.machine_info()}))
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
