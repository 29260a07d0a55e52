"""Independent reference for NTKSpectra's exact path.

Builds two small networks in the layout of PyTorch's nn.Sequential state_dict (Linear weight
[out, in], Conv2d weight [out, in, kh, kw]), writes them as a model spec (JSON) + safetensors
(F64) + inputs (.npy), and computes the full empirical NTK independently with JAX in float64
(jax.jacrev of the forward written here by hand) and its eigenvalues with numpy.linalg.eigvalsh.
The reference trace / entropy use the conventions of the reference code: eigenvalues clipped
at 0, p = lambda / sum, natural log.

Run: python3 make_ntk_fixtures.py   (needs numpy, jax, safetensors)
"""
import json

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from safetensors.numpy import save_file

jax.config.update("jax_enable_x64", True)
rng = np.random.default_rng(20261123)


def uniform(shape, fan_in):
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape)


def stats(eig):
    lam = np.clip(eig, 0.0, None)
    t = lam.sum()
    p = lam[lam > 0] / t
    return {"trace": float(t), "entropy": float(-(p * np.log(p)).sum()), "dimension": int(len(eig))}


def ntk_eigenvalues(forward, params, x):
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    jac = jax.jacrev(lambda th: forward(unravel(th), x).reshape(-1))(flat)  # (n*k, P), rows i*k+c
    kernel = np.asarray(jac @ jac.T)
    traced = kernel.reshape(x.shape[0], -1, x.shape[0], kernel.shape[0] // x.shape[0])
    traced = np.einsum("icjc->ij", traced)
    return np.linalg.eigvalsh(kernel), np.linalg.eigvalsh(traced), flat.size


def write(name, spec, tensors, x, forward, params):
    eig_full, eig_traced, count = ntk_eigenvalues(forward, params, jnp.asarray(x))
    outputs = np.asarray(forward(params, jnp.asarray(x)))
    with open(f"{name}.json", "w") as f:
        json.dump(spec, f, indent=1)
    save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in tensors.items()}, f"{name}.safetensors")
    np.save(f"{name}_inputs.npy", x.astype(np.float64))
    reference = {"full": stats(eig_full), "traced": stats(eig_traced), "parameter_count": int(count),
                 "outputs_first_row": outputs[0].tolist()}
    with open(f"{name}_reference.json", "w") as f:
        json.dump(reference, f, indent=1)
    np.save(f"{name}_eigenvalues_full.npy", eig_full)


# MLP 6 -> 12 (tanh) -> 12 (tanh) -> 3, n = 40 (full kernel 120 x 120).
mlp = {"w0": uniform((12, 6), 6), "b0": uniform((12,), 6), "w2": uniform((12, 12), 12), "b2": uniform((12,), 12),
       "w4": uniform((3, 12), 12), "b4": uniform((3,), 12)}


def mlp_forward(p, x):
    h = jnp.tanh(x @ p["w0"].T + p["b0"])
    h = jnp.tanh(h @ p["w2"].T + p["b2"])
    return h @ p["w4"].T + p["b4"]


mlp_spec = {"input_shape": [6], "layers": [
    {"type": "linear", "in_features": 6, "out_features": 12}, {"type": "tanh"},
    {"type": "linear", "in_features": 12, "out_features": 12}, {"type": "tanh"},
    {"type": "linear", "in_features": 12, "out_features": 3}]}
write("mlp", mlp_spec, {"0.weight": mlp["w0"], "0.bias": mlp["b0"], "2.weight": mlp["w2"], "2.bias": mlp["b2"],
                        "4.weight": mlp["w4"], "4.bias": mlp["b4"]},
      rng.normal(size=(40, 6)), mlp_forward, mlp)

# CNN: conv(1->3, k3, s1, p1) relu, conv(3->4, k3, s2, p1) tanh, flatten, linear(4*3*3 -> 2); input 1x6x6, n = 24.
cnn = {"c0": uniform((3, 1, 3, 3), 9), "cb0": uniform((3,), 9), "c2": uniform((4, 3, 3, 3), 27),
       "cb2": uniform((4,), 27), "w5": uniform((2, 36), 36), "b5": uniform((2,), 36)}


def conv(x, w, b, stride, pad):
    y = jax.lax.conv_general_dilated(x, w, (stride, stride), [(pad, pad), (pad, pad)],
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y + b[None, :, None, None]


def cnn_forward(p, x):
    x = x.reshape(x.shape[0], 1, 6, 6)
    h = jax.nn.relu(conv(x, p["c0"], p["cb0"], 1, 1))
    h = jnp.tanh(conv(h, p["c2"], p["cb2"], 2, 1))
    return h.reshape(h.shape[0], -1) @ p["w5"].T + p["b5"]


cnn_spec = {"input_shape": [1, 6, 6], "layers": [
    {"type": "conv2d", "in_channels": 1, "out_channels": 3, "kernel_size": 3, "stride": 1, "padding": 1},
    {"type": "relu"},
    {"type": "conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1},
    {"type": "tanh"}, {"type": "flatten"},
    {"type": "linear", "in_features": 36, "out_features": 2}]}
write("cnn", cnn_spec, {"0.weight": cnn["c0"], "0.bias": cnn["cb0"], "2.weight": cnn["c2"], "2.bias": cnn["cb2"],
                        "5.weight": cnn["w5"], "5.bias": cnn["b5"]},
      rng.normal(size=(24, 36)), cnn_forward, cnn)
print("written")
