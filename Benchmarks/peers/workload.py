"""Shared workload loader for the peer benchmarks (JAX, PyTorch, neural-tangents).

A workload is three files, exchanged with NTKSpectra (Swift):
  * a model spec (JSON, PyTorch nn.Sequential style, the same format NTKNetworks.ModelSpec reads):
      {"input_shape": [64], "parameterization": "standard",
       "layers": [{"type": "linear", "in_features": 64, "out_features": 1024}, {"type": "tanh"}, ...]}
  * weights as safetensors with PyTorch state_dict names ("0.weight" [out, in], "0.bias",
    conv "2.weight" [out, in, kh, kw]; nested residual bodies "3.layers.0.weight"), F32 or F64;
  * inputs as .npy [n, *input_shape] (C order; [n, prod(input_shape)] is accepted and reshaped).

The NTK is the full (n*k) x (n*k) kernel K = J J^T, J = d vec(f(params, X)) / d params, rows
sample-major (index i*k + c), exactly as in NTKSpectra and in make_ntk_fixtures.py.

This module builds from those files
  * `jax_forward(spec)` -> f(params, x), params = {state_dict name: array}, x [n, *input_shape] -> [n, k]
  * `torch_sequential(spec, weights, dtype)` -> torch.nn.Sequential (PyTorch's own layers; the NTK
    parameterization uses two small scaled subclasses),
and helpers for entropy/trace statistics and machine information. torch and jax are imported lazily
so that this file works in the neural-tangents venv (jax only) and the torch venv alike.
"""
from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

ACTIVATIONS = ("identity", "tanh", "relu", "gelu", "sigmoid", "softplus", "erf", "sine")
LAYER_TYPES = ("linear", "conv2d", "flatten", "avgpool2d", "adaptiveavgpool2d", "globalavgpool",
               "globalavgpool2d", "layernorm", "residual") + ACTIVATIONS


class WorkloadError(Exception):
    """Bad workload file or spec; the message names the offending thing and what was expected."""


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

@dataclass
class Workload:
    spec: dict
    weights: dict[str, np.ndarray]
    inputs: np.ndarray  # [n, *input_shape]
    output_dim: int
    parameter_count: int
    width: int | None = None
    files: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.inputs.shape[0])


def _int(layer: dict, key: str, path: str, default: Any = None) -> Any:
    value = layer.get(key, default)
    if value is None:
        raise WorkloadError(f"layer {path} ({layer.get('type')}): missing field '{key}'")
    return value


def _pair(value: Any, what: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (int(value[0]), int(value[1]))
    raise WorkloadError(f"{what}: got {value!r}, expected an int or a pair of ints")


def load_spec(path: str) -> dict:
    try:
        with open(path) as f:
            spec = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise WorkloadError(f"model spec {path}: {e}") from e
    if not isinstance(spec, dict) or "input_shape" not in spec or "layers" not in spec:
        raise WorkloadError(f"model spec {path}: expected an object with 'input_shape' and 'layers'")
    _check_layers(spec["layers"], "")
    param = str(spec.get("parameterization", "standard")).lower()
    if param not in ("standard", "ntk"):
        raise WorkloadError(f"model spec {path}: parameterization '{param}', expected 'standard' or 'ntk'")
    return spec


def _check_layers(layers: Any, prefix: str) -> None:
    if not isinstance(layers, list) or not layers:
        raise WorkloadError(f"layers{(' of ' + prefix.rstrip('.')) if prefix else ''}: expected a non-empty list")
    for i, layer in enumerate(layers):
        t = str(layer.get("type", "")).lower()
        if t not in LAYER_TYPES:
            raise WorkloadError(f"layer {prefix}{i}: unknown type '{t}', expected one of {', '.join(LAYER_TYPES)}")
        if t == "residual":
            _check_layers(layer.get("layers"), f"{prefix}{i}.layers.")


def load_weights(path: str) -> dict[str, np.ndarray]:
    try:
        from safetensors.numpy import load_file
        return dict(load_file(path))
    except Exception as e:  # safetensors raises several types
        raise WorkloadError(f"weights {path}: {e}") from e


def load_inputs(path: str, input_shape: list[int]) -> np.ndarray:
    try:
        x = np.load(path)
    except (OSError, ValueError) as e:
        raise WorkloadError(f"inputs {path}: {e}") from e
    per = int(np.prod(input_shape))
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != per:
        raise WorkloadError(f"inputs {path}: shape {list(x.shape)}, expected [n, {', '.join(map(str, input_shape))}]")
    return np.ascontiguousarray(x.reshape((x.shape[0], *input_shape)))


def load(spec_path: str, weights_path: str, inputs_path: str) -> Workload:
    spec = load_spec(spec_path)
    weights = load_weights(weights_path)
    inputs = load_inputs(inputs_path, spec["input_shape"])
    expected, out_shape, widths = _walk_shapes(spec["layers"], list(spec["input_shape"]), "")
    for name, shape in expected.items():
        if name not in weights:
            raise WorkloadError(f"weights {weights_path}: missing tensor '{name}' (expected shape {list(shape)})")
        if tuple(weights[name].shape) != tuple(shape):
            raise WorkloadError(f"weights {weights_path}: tensor '{name}' has shape {list(weights[name].shape)}, "
                                f"expected {list(shape)}")
    extra = sorted(set(weights) - set(expected))
    if extra:
        raise WorkloadError(f"weights {weights_path}: unexpected tensors {extra} for this spec")
    if len(out_shape) != 1:
        raise WorkloadError(f"model spec {spec_path}: output shape per example is {out_shape}, expected [k] "
                            "(add a flatten layer)")
    count = int(sum(int(np.prod(s)) for s in expected.values()))
    hidden = widths[:-1]
    return Workload(spec=spec, weights=weights, inputs=inputs, output_dim=out_shape[0], parameter_count=count,
                    width=max(hidden) if hidden else None,
                    files={"spec": spec_path, "weights": weights_path, "inputs": inputs_path})


def _walk_shapes(layers: list, shape: list[int], prefix: str) -> tuple[dict, list[int], list[int]]:
    """Parameter shapes by state_dict name, the output shape and the linear widths."""
    expected: dict[str, tuple] = {}
    widths: list[int] = []
    for i, layer in enumerate(layers):
        t = layer["type"].lower()
        path = f"{prefix}{i}"
        if t == "linear":
            fin, fout = _int(layer, "in_features", path), _int(layer, "out_features", path)
            if shape[-1] != fin:
                raise WorkloadError(f"layer {path} (linear): in_features {fin}, but the incoming shape is {shape}")
            expected[f"{path}.weight"] = (fout, fin)
            if layer.get("bias", True):
                expected[f"{path}.bias"] = (fout,)
            shape = shape[:-1] + [fout]
            widths.append(fout)
        elif t == "conv2d":
            cin, cout = _int(layer, "in_channels", path), _int(layer, "out_channels", path)
            kh, kw = _pair(_int(layer, "kernel_size", path), f"layer {path} kernel_size")
            sh, sw = _pair(layer.get("stride", 1), f"layer {path} stride")
            ph, pw = _pair(layer.get("padding", 0), f"layer {path} padding")
            if len(shape) != 3 or shape[0] != cin:
                raise WorkloadError(f"layer {path} (conv2d): in_channels {cin}, incoming shape {shape} (expected [C, H, W])")
            expected[f"{path}.weight"] = (cout, cin, kh, kw)
            if layer.get("bias", True):
                expected[f"{path}.bias"] = (cout,)
            shape = [cout, (shape[1] + 2 * ph - kh) // sh + 1, (shape[2] + 2 * pw - kw) // sw + 1]
        elif t == "flatten":
            shape = [int(np.prod(shape))]
        elif t == "avgpool2d":
            kh, kw = _pair(_int(layer, "kernel_size", path), f"layer {path} kernel_size")
            sh, sw = _pair(layer.get("stride") or (kh, kw), f"layer {path} stride")
            shape = [shape[0], (shape[1] - kh) // sh + 1, (shape[2] - kw) // sw + 1]
        elif t == "adaptiveavgpool2d":
            shape = [shape[0], 1, 1]
        elif t in ("globalavgpool", "globalavgpool2d"):
            shape = [shape[0]]
        elif t == "layernorm":
            ns = layer.get("normalized_shape")
            ns = [ns] if isinstance(ns, int) else list(ns or [])
            if shape[-len(ns):] != ns:
                raise WorkloadError(f"layer {path} (layernorm): normalized_shape {ns} does not end the shape {shape}")
            if layer.get("elementwise_affine", True):
                expected[f"{path}.weight"] = tuple(ns)
                expected[f"{path}.bias"] = tuple(ns)
        elif t == "residual":
            inner, out, w = _walk_shapes(layer["layers"], shape, f"{path}.layers.")
            if out != shape:
                raise WorkloadError(f"layer {path} (residual): body maps {shape} to {out}, expected the same shape")
            expected.update(inner)
            widths.extend(w)
    return expected, shape, widths


def _multipliers(spec: dict, fan_in: int) -> tuple[float, float]:
    """(c_w, c_b): NTKNetworks.Parameterization — standard (1, 1); ntk (sigma_w / sqrt(fan_in), sigma_b)."""
    if str(spec.get("parameterization", "standard")).lower() == "ntk":
        return float(spec.get("weight_scale", 1.0)) / math.sqrt(max(fan_in, 1)), float(spec.get("bias_scale", 1.0))
    return 1.0, 1.0


# --------------------------------------------------------------------------------------------
# JAX
# --------------------------------------------------------------------------------------------

def jax_forward(spec: dict) -> Callable:
    """Pure f(params, x): params {state_dict name: array}, x [n, *input_shape] -> [n, k] (NCHW/OIHW convs)."""
    import jax
    import jax.numpy as jnp

    def act(t: str, h):
        return {"identity": lambda v: v, "tanh": jnp.tanh, "relu": jax.nn.relu,
                "gelu": lambda v: jax.nn.gelu(v, approximate=False), "sigmoid": jax.nn.sigmoid,
                "softplus": lambda v: jnp.where(v > 20, v, jnp.log1p(jnp.exp(jnp.minimum(v, 20)))),
                "erf": jax.scipy.special.erf, "sine": jnp.sin}[t](h)

    def run(layers, params, h, prefix):
        for i, layer in enumerate(layers):
            t = layer["type"].lower()
            p = f"{prefix}{i}"
            if t == "linear":
                cw, cb = _multipliers(spec, layer["in_features"])
                h = h @ (cw * params[p + ".weight"]).T
                if layer.get("bias", True):
                    h = h + cb * params[p + ".bias"]
            elif t == "conv2d":
                kh, kw = _pair(layer["kernel_size"], "kernel_size")
                cw, cb = _multipliers(spec, layer["in_channels"] * kh * kw)
                ph, pw = _pair(layer.get("padding", 0), "padding")
                h = jax.lax.conv_general_dilated(h, cw * params[p + ".weight"], _pair(layer.get("stride", 1), "stride"),
                                                 [(ph, ph), (pw, pw)], dimension_numbers=("NCHW", "OIHW", "NCHW"))
                if layer.get("bias", True):
                    h = h + cb * params[p + ".bias"][None, :, None, None]
            elif t == "flatten":
                h = h.reshape(h.shape[0], -1)
            elif t == "avgpool2d":
                kh, kw = _pair(layer["kernel_size"], "kernel_size")
                sh, sw = _pair(layer.get("stride") or (kh, kw), "stride")
                h = jax.lax.reduce_window(h, 0.0, jax.lax.add, (1, 1, kh, kw), (1, 1, sh, sw), "VALID") / (kh * kw)
            elif t == "adaptiveavgpool2d":
                h = h.mean(axis=(2, 3), keepdims=True)
            elif t in ("globalavgpool", "globalavgpool2d"):
                h = h.mean(axis=(2, 3))
            elif t == "layernorm":
                ns = layer["normalized_shape"]
                axes = tuple(range(-(1 if isinstance(ns, int) else len(ns)), 0))
                mu = h.mean(axis=axes, keepdims=True)
                var = ((h - mu) ** 2).mean(axis=axes, keepdims=True)
                h = (h - mu) / jnp.sqrt(var + float(layer.get("eps", 1e-5)))
                if layer.get("elementwise_affine", True):
                    h = h * params[p + ".weight"] + params[p + ".bias"]
            elif t == "residual":
                h = h + run(layer["layers"], params, h, p + ".layers.")
            else:
                h = act(t, h)
        return h

    def f(params, x):
        return run(spec["layers"], params, x, "")

    return f


def enable_jax_x64(precision: str) -> None:
    import jax
    jax.config.update("jax_enable_x64", precision == "double")


def set_xla_threads(threads: int) -> None:
    """Must run before jax is imported: XLA's CPU backend sizes its Eigen pool from these flags."""
    flags = os.environ.get("XLA_FLAGS", "")
    extra = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} intra_op_parallelism_threads={threads}"
    os.environ["XLA_FLAGS"] = (flags + " " + extra).strip()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# --------------------------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------------------------

def torch_sequential(spec: dict, weights: dict[str, np.ndarray], dtype):
    """torch.nn.Sequential with the given state_dict; the NTK parameterization scales in forward."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class ScaledLinear(nn.Linear):
        def __init__(self, fin, fout, bias, cw, cb):
            super().__init__(fin, fout, bias=bias)
            self.cw, self.cb = cw, cb

        def forward(self, x):
            return F.linear(x, self.cw * self.weight, None if self.bias is None else self.cb * self.bias)

    class ScaledConv2d(nn.Conv2d):
        def __init__(self, *args, cw, cb, **kw):
            super().__init__(*args, **kw)
            self.cw, self.cb = cw, cb

        def forward(self, x):
            return F.conv2d(x, self.cw * self.weight, None if self.bias is None else self.cb * self.bias,
                            self.stride, self.padding)

    class Residual(nn.Module):
        def __init__(self, body):
            super().__init__()
            self.layers = body

        def forward(self, x):
            return x + self.layers(x)

    class GlobalAvgPool(nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3))

    class Sine(nn.Module):
        def forward(self, x):
            return torch.sin(x)

    class Erf(nn.Module):
        def forward(self, x):
            return torch.erf(x)

    ntk = str(spec.get("parameterization", "standard")).lower() == "ntk"

    def build(layers) -> nn.Sequential:
        mods = []
        for layer in layers:
            t = layer["type"].lower()
            if t == "linear":
                fin, fout, bias = layer["in_features"], layer["out_features"], layer.get("bias", True)
                if ntk:
                    cw, cb = _multipliers(spec, fin)
                    mods.append(ScaledLinear(fin, fout, bias, cw, cb))
                else:
                    mods.append(nn.Linear(fin, fout, bias=bias))
            elif t == "conv2d":
                k = _pair(layer["kernel_size"], "kernel_size")
                args = (layer["in_channels"], layer["out_channels"], k)
                kw = dict(stride=_pair(layer.get("stride", 1), "stride"), padding=_pair(layer.get("padding", 0), "padding"),
                          bias=layer.get("bias", True))
                if ntk:
                    cw, cb = _multipliers(spec, layer["in_channels"] * k[0] * k[1])
                    mods.append(ScaledConv2d(*args, cw=cw, cb=cb, **kw))
                else:
                    mods.append(nn.Conv2d(*args, **kw))
            elif t == "flatten":
                mods.append(nn.Flatten())
            elif t == "avgpool2d":
                mods.append(nn.AvgPool2d(layer["kernel_size"], stride=layer.get("stride")))
            elif t == "adaptiveavgpool2d":
                mods.append(nn.AdaptiveAvgPool2d(1))
            elif t in ("globalavgpool", "globalavgpool2d"):
                mods.append(GlobalAvgPool())
            elif t == "layernorm":
                mods.append(nn.LayerNorm(layer["normalized_shape"], eps=float(layer.get("eps", 1e-5)),
                                         elementwise_affine=layer.get("elementwise_affine", True)))
            elif t == "residual":
                mods.append(Residual(build(layer["layers"])))
            else:
                mods.append({"identity": nn.Identity, "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU,
                             "sigmoid": nn.Sigmoid, "softplus": nn.Softplus, "erf": Erf, "sine": Sine}[t]())
        return nn.Sequential(*mods)

    model = build(spec["layers"]).to(dtype)
    state = {name: torch.from_numpy(np.ascontiguousarray(w)).to(dtype) for name, w in weights.items()}
    model.load_state_dict(state, strict=True)
    return model


def torch_ntk_matvec(w: "Workload", dtype):
    """(matvec, params) for the full NTK of `w` in PyTorch: matvec(V) = J (J^T V) for V [(n k), s].

    J^T V: torch.func.vjp once per parameter state (the forward is kept), vmapped over the s columns;
    J U: torch.func.jvp (re-runs the forward), vmapped. functional_call on the nn.Sequential.
    Call under torch.no_grad().
    """
    import torch
    from torch.func import functional_call, jvp, vjp, vmap

    model = torch_sequential(w.spec, w.weights, dtype)
    params = {name: p.detach() for name, p in model.named_parameters()}
    x = torch.from_numpy(w.inputs).to(dtype)
    n, k = w.n, w.output_dim

    def fp(p):
        return functional_call(model, p, (x,))

    _, vjp_fn = vjp(fp, params)

    def column_jvp(g):
        return jvp(fp, (params,), (g,))[1].reshape(-1)

    def matvec(v):
        c = v.T.reshape(v.shape[1], n, k)
        (g,) = vmap(vjp_fn)(c)
        return vmap(column_jvp)(g).T

    return matvec, fp, params


# --------------------------------------------------------------------------------------------
# Spectra and machine info
# --------------------------------------------------------------------------------------------

def spectrum_statistics(eigenvalues: np.ndarray) -> dict:
    """Conventions of the reference code: eigenvalues clipped at 0, p = lambda / sum, -sum p ln p (p > 0)."""
    lam = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0.0, None)
    total = float(lam.sum())
    p = lam[lam > 0] / total if total > 0 else np.zeros(0)
    entropy = float(-(p * np.log(p)).sum())
    return {"trace": total, "entropy": entropy, "dimension": int(lam.size),
            "effective_entropy": entropy / math.log(lam.size) if lam.size > 1 else 0.0,
            "lambda_max": float(lam.max()) if lam.size else 0.0}


def machine_info() -> dict:
    info: dict[str, Any] = {"python": platform.python_version(), "numpy": np.__version__, "cpu_count": os.cpu_count(),
                            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
                            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE")}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer")}
                        for d in threadpool_info() if d.get("user_api") == "blas"]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info
