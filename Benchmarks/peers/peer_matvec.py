"""NTK block matvec K V = J (J^T V) with JAX or PyTorch, timed.

K is the full (n*k) x (n*k) empirical NTK (rows sample-major i*k + c); V is (n*k) x s (s = --block).
  * JAX:   (out, f_jvp) = jax.linearize(f(., X), params) once per parameter state; J^T via
           jax.linear_transpose(f_jvp); the block is a jax.vmap over the s columns, all inside one jax.jit
           (f_jvp is a jax.tree_util.Partial, so the linearization is an argument, not a constant).
  * torch: (out, vjp_fn) = torch.func.vjp(functional_call(model, ., X), params) once per parameter state;
           J u via torch.func.jvp (which re-runs the forward: PyTorch has no cached jvp that vmaps);
           the block is a torch.func.vmap over the s columns.
One matvec = one column: matvecs_per_second = s / median(seconds per block).
Prints ONE JSON line. Threads are pinned to --threads (default 2) for XLA, torch and BLAS.

Example: python peer_matvec.py --framework jax --spec W/model.json --weights W/weights_f32.safetensors \
           --inputs W/inputs.npy --block 8 --precision float --repeats 5
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--framework", choices=("jax", "torch"), required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--block", type=int, default=1, help="number of columns s of V (default 1)")
    ap.add_argument("--precision", choices=("float", "double"), default="float")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", action="store_true",
                    help="also compare K V with a dense K = J J^T from the explicit Jacobian (small workloads only)")
    a = ap.parse_args(argv)
    for name in ("block", "repeats", "threads"):
        if getattr(a, name) < 1:
            ap.error(f"--{name} must be >= 1, got {getattr(a, name)}")
    if a.warmup < 0:
        ap.error(f"--warmup must be >= 0, got {a.warmup}")
    return a


def pin_threads(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


def jax_matvec(w, precision: str, block: int, seed: int, check: bool):
    import workload as wl
    wl.enable_jax_x64(precision)
    import jax
    import jax.numpy as jnp
    import numpy as np

    dtype = jnp.float64 if precision == "double" else jnp.float32
    f = wl.jax_forward(w.spec)
    params = {k: jnp.asarray(v, dtype=dtype) for k, v in w.weights.items()}
    x = jnp.asarray(w.inputs, dtype=dtype)
    n, k = w.n, w.output_dim

    def fp(p):
        return f(p, x)

    _, f_jvp = jax.linearize(fp, params)

    @jax.jit
    def matvec(f_jvp, v):
        f_vjp = jax.linear_transpose(f_jvp, params)

        def column(c):
            (g,) = f_vjp(c.reshape(n, k))
            return f_jvp(g).reshape(-1)

        return jax.vmap(column, in_axes=1, out_axes=1)(v)

    v = jnp.asarray(np.random.default_rng(seed).standard_normal((n * k, block)), dtype=dtype)

    def call():
        return matvec(f_jvp, v).block_until_ready()

    dense = None
    if check:
        from jax.flatten_util import ravel_pytree
        flat, unravel = ravel_pytree(params)
        jac = jax.jacrev(lambda th: fp(unravel(th)).reshape(-1))(flat)
        dense = np.asarray(jac, dtype=np.float64)
    versions = {"jax": jax.__version__, "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else None,
                "backend": jax.default_backend(), "XLA_FLAGS": os.environ.get("XLA_FLAGS")}
    return call, lambda: np.asarray(call(), dtype=np.float64), np.asarray(v, dtype=np.float64), dense, versions


def torch_matvec(w, precision: str, block: int, seed: int, check: bool, threads: int):
    import numpy as np
    import torch
    import workload as wl

    torch.set_num_threads(threads)
    dtype = torch.float64 if precision == "double" else torch.float32
    matvec, fp, params = wl.torch_ntk_matvec(w, dtype)
    n, k = w.n, w.output_dim

    v = torch.from_numpy(np.random.default_rng(seed).standard_normal((n * k, block))).to(dtype)

    def call():
        with torch.no_grad():
            return matvec(v)

    dense = None
    if check:
        from torch.func import jacrev
        jac = jacrev(fp)(params)
        dense = torch.cat([jac[name].reshape(n * k, -1) for name in params], dim=1).double().numpy()
    versions = {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                "torch_interop_threads": torch.get_num_interop_threads(),
                "torch_parallel_info": torch.__config__.parallel_info().splitlines()[:6]}
    return call, lambda: call().double().numpy(), v.double().numpy(), dense, versions


def main(argv=None) -> int:
    a = parse(argv)
    pin_threads(a.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import workload as wl
    if a.framework == "jax":
        wl.set_xla_threads(a.threads)
    try:
        w = wl.load(a.spec, a.weights, a.inputs)
    except wl.WorkloadError as e:
        print(json.dumps({"framework": a.framework, "status": "error", "error": str(e)}))
        return 2
    import numpy as np

    t0 = time.perf_counter()
    if a.framework == "jax":
        call, result, v, jac, versions = jax_matvec(w, a.precision, a.block, a.seed, a.check)
    else:
        call, result, v, jac, versions = torch_matvec(w, a.precision, a.block, a.seed, a.check, a.threads)
    setup = time.perf_counter() - t0

    t0 = time.perf_counter()
    for _ in range(a.warmup):
        call()
    warmup = time.perf_counter() - t0
    times = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)

    out = {"framework": a.framework, "status": "ok", "matvecs_per_second": a.block / median,
           "seconds_per_matvec": median / a.block, "seconds_per_block": median, "block": a.block,
           "precision": a.precision, "n": w.n, "k": w.output_dim, "width": w.width,
           "parameter_count": w.parameter_count, "threads": a.threads, "repeats": a.repeats,
           "seconds_all": times, "seconds_setup": setup, "seconds_warmup": warmup, "versions": versions,
           "machine": wl.machine_info()}
    if a.check:
        kv = result()
        ref = jac @ (jac.T @ v)
        out["check_max_relative_error"] = float(np.abs(kv - ref).max() / np.abs(ref).max())
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
