"""ZnNL-style NTK recorder: the per-record cost of monitoring NTK entropy and trace during training.

What ZnNL (zincware/ZnNL, `JaxRecorder(entropy=True, trace=True)`) does at every recorded epoch:
  ntk = nt.batch(nt.empirical_ntk_fn(f, trace_axes=(), implementation=NTK_VECTOR_PRODUCTS),
                 batch_size=10)(x_probe, x_probe, params)          # [n, n, k, k]
  eigenvalues = jnp.linalg.eigh(ntk as (n k) x (n k))             # then clipped, normalized
  entropy = -sum p ln p,  trace = jnp.trace(ntk)
This script does the same on a workload's files (workload.py): the kernel function is built once and
called --repeats + 1 times with the same parameters; the first call (trace + compile + run) is reported
as seconds_first_call, the later ("warm") calls are the per-record cost, each followed by the eigh.
--implementation (default 1 = NTK_VECTOR_PRODUCTS, ZnNL's default for the full kernel) and --batch-size
(0: one jax.jit over the whole probe set, the fastest when it fits; ZnNL's default is 10) select the
neural-tangents path; --eigh jax (ZnNL: jnp.linalg.eigh, with eigenvectors) or numpy (eigvalsh).
Entropy/trace use workload.spectrum_statistics (eigenvalues clipped at 0, natural log), as NTKSpectra.

Prints ONE JSON line (medians over the warm calls; all samples listed). An out-of-memory error is
reported as status "oom" with the message (an OOM kill cannot be caught: the driver reports that).
Needs the neural-tangents venv (requirements-nt.txt). Example:
    .venv-nt/bin/python peer_recorder.py --spec W/model.json --weights W/weights_f64.safetensors \
        --inputs W/inputs.npy --precision double --repeats 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

NAMES = {0: "JACOBIAN_CONTRACTION", 1: "NTK_VECTOR_PRODUCTS", 2: "STRUCTURED_DERIVATIVES"}


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--precision", choices=("float", "double"), default="double")
    ap.add_argument("--implementation", type=int, choices=(0, 1, 2), default=1)
    ap.add_argument("--batch-size", type=int, default=0, help="nt.batch block (examples); 0: jax.jit of the whole set")
    ap.add_argument("--eigh", choices=("jax", "numpy"), default="jax")
    ap.add_argument("--repeats", type=int, default=3, help="warm records timed (after the first call)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    if a.repeats < 1 or a.threads < 1 or a.batch_size < 0:
        ap.error("--repeats and --threads must be >= 1, --batch-size >= 0")
    return a


def main(argv=None) -> int:
    a = parse(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import workload as wl
    wl.set_xla_threads(a.threads)
    wl.enable_jax_x64(a.precision)
    import numpy as np
    import jax
    import jax.numpy as jnp
    import neural_tangents as nt

    w = wl.load(a.spec, a.weights, a.inputs)
    n, k = w.n, w.output_dim
    dtype = jnp.float64 if a.precision == "double" else jnp.float32
    params = {name: jnp.asarray(v, dtype=dtype) for name, v in w.weights.items()}
    x = jnp.asarray(w.inputs, dtype=dtype)
    kernel_fn = nt.empirical_ntk_fn(wl.jax_forward(w.spec), trace_axes=(), vmap_axes=0,
                                    implementation=getattr(nt.NtkImplementation, NAMES[a.implementation]))
    if a.batch_size:
        if n % a.batch_size:
            raise SystemExit(f"--batch-size {a.batch_size} does not divide n = {n}")
        kernel_fn = nt.batch(kernel_fn, batch_size=a.batch_size, store_on_device=True)
    else:
        kernel_fn = jax.jit(kernel_fn)

    def record():
        """One ZnNL record: kernel, then (n k) x (n k) layout + eigh + entropy/trace; (seconds, seconds, stats)."""
        t0 = time.perf_counter()
        ntk = kernel_fn(x, None, params).block_until_ready()
        t1 = time.perf_counter()
        dense = jnp.transpose(ntk, (0, 2, 1, 3)).reshape(n * k, n * k)
        if a.eigh == "jax":
            lam = np.asarray(jnp.linalg.eigh(dense)[0].block_until_ready(), dtype=np.float64)
        else:
            lam = np.linalg.eigvalsh(np.asarray(dense))
        stats = wl.spectrum_statistics(lam)
        stats["trace_diagonal"] = float(jnp.trace(dense))
        return t1 - t0, time.perf_counter() - t1, stats

    load = [open("/proc/loadavg").read().split()[:3]]
    out = {"tool": "znnl-style-recorder", "implementation": NAMES[a.implementation], "batch_size": a.batch_size,
           "eigh": a.eigh, "precision": a.precision, "n": n, "k": k, "dimension": n * k, "width": w.width,
           "parameter_count": w.parameter_count, "threads": a.threads, "files": w.files}
    try:
        first_kernel, first_eigh, _ = record()
        kernels, eighs = [], []
        for _ in range(a.repeats):
            tk, te, stats = record()
            kernels.append(tk)
            eighs.append(te)
    except Exception as e:  # XLA raises XlaRuntimeError (RESOURCE_EXHAUSTED) on allocation failure
        oom = any(s in str(e) for s in ("RESOURCE_EXHAUSTED", "Out of memory", "out of memory"))
        out.update(status="oom" if oom else "error", error=str(e)[:500])
        print(json.dumps(out))
        return 1
    load.append(open("/proc/loadavg").read().split()[:3])
    totals = [tk + te for tk, te in zip(kernels, eighs)]
    out.update(status="ok", seconds_first_call=first_kernel, seconds_first_eigh=first_eigh,
               seconds_kernel=statistics.median(kernels), seconds_eigh=statistics.median(eighs),
               seconds_total=statistics.median(totals), samples_kernel=kernels, samples_eigh=eighs,
               load=load, versions={"neural_tangents": nt.__version__, "jax": jax.__version__},
               machine=wl.machine_info(), **stats)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
