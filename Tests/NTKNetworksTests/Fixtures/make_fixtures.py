#!/usr/bin/env python3
"""Generates the NTKNetworks interop fixtures (run from this directory; needs numpy and
safetensors: `pip install numpy safetensors`).

For a small MLP and a small CNN (the same models as PyTorch `nn.Sequential`s, described by
the JSON specs written next to them) this writes:
  <name>.json              the model spec (NTKNetworks ModelSpec format)
  <name>.safetensors       the weights, named and shaped exactly as PyTorch's state_dict()
  <name>_io.safetensors    "inputs" [b, ...] and "outputs" [b, k] (float64)
The expected outputs are computed INDEPENDENTLY of NTKNetworks by the hand-written numpy
forward passes below (float64 arithmetic on the stored weights).
"""
import json
import math

import numpy as np
from safetensors.numpy import save_file

rng = np.random.default_rng(20261123)


def uniform(shape, fan_in):
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape)


def linear(x, w, b):
    return x @ w.T + b


def layernorm(x, g, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def conv2d(x, w, b, stride, padding):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding))
    xp[:, :, padding:padding + h, padding:padding + wd] = x
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (wd + 2 * padding - kw) // stride + 1
    y = np.zeros((n, o, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            y[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w) + b
    return y


def avgpool2d(x, k):
    n, c, h, w = x.shape
    return x[:, :, : h // k * k, : w // k * k].reshape(n, c, h // k, k, w // k, k).mean(axis=(3, 5))


def write(name, spec, weights, dtype, inputs, outputs):
    with open(f"{name}.json", "w") as f:
        json.dump(spec, f, indent=1)
        f.write("\n")
    save_file({k: v.astype(dtype) for k, v in weights.items()}, f"{name}.safetensors")
    save_file({"inputs": inputs, "outputs": outputs}, f"{name}_io.safetensors")


# MLP: Linear(5,8) -> Tanh -> LayerNorm(8) -> Linear(8,6) -> GELU -> Linear(6,3); float32 weights.
mlp_spec = {
    "input_shape": [5],
    "layers": [
        {"type": "linear", "in_features": 5, "out_features": 8},
        {"type": "tanh"},
        {"type": "layernorm", "normalized_shape": [8]},
        {"type": "linear", "in_features": 8, "out_features": 6},
        {"type": "gelu"},
        {"type": "linear", "in_features": 6, "out_features": 3, "bias": True},
    ],
}
w = {
    "0.weight": uniform((8, 5), 5), "0.bias": uniform((8,), 5),
    "2.weight": 1.0 + 0.2 * rng.standard_normal(8), "2.bias": 0.1 * rng.standard_normal(8),
    "3.weight": uniform((6, 8), 8), "3.bias": uniform((6,), 8),
    "5.weight": uniform((3, 6), 6), "5.bias": uniform((3,), 6),
}
w = {k: v.astype(np.float32).astype(np.float64) for k, v in w.items()}  # what Swift will read
x = rng.standard_normal((4, 5))
h = np.tanh(linear(x, w["0.weight"], w["0.bias"]))
h = layernorm(h, w["2.weight"], w["2.bias"])
h = gelu(linear(h, w["3.weight"], w["3.bias"]))
y = linear(h, w["5.weight"], w["5.bias"])
write("mlp", mlp_spec, w, np.float32, x, y)

# CNN: Conv2d(2,3,3,padding=1) -> ReLU -> AvgPool2d(2) -> Residual(Conv2d(3,3,3,padding=1), Tanh)
#      -> Conv2d(3,4,2) -> Sigmoid -> Flatten -> Linear(16,3); float64 weights.
# The residual module is `class Residual(nn.Module): layers = nn.Sequential(...); forward: x + layers(x)`.
cnn_spec = {
    "input_shape": [2, 6, 6],
    "layers": [
        {"type": "conv2d", "in_channels": 2, "out_channels": 3, "kernel_size": 3, "stride": 1, "padding": 1},
        {"type": "relu"},
        {"type": "avgpool2d", "kernel_size": 2},
        {"type": "residual", "layers": [
            {"type": "conv2d", "in_channels": 3, "out_channels": 3, "kernel_size": 3, "padding": 1},
            {"type": "tanh"},
        ]},
        {"type": "conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": [2, 2]},
        {"type": "sigmoid"},
        {"type": "flatten"},
        {"type": "linear", "in_features": 16, "out_features": 3},
    ],
}
w = {
    "0.weight": uniform((3, 2, 3, 3), 18), "0.bias": uniform((3,), 18),
    "3.layers.0.weight": uniform((3, 3, 3, 3), 27), "3.layers.0.bias": uniform((3,), 27),
    "4.weight": uniform((4, 3, 2, 2), 12), "4.bias": uniform((4,), 12),
    "7.weight": uniform((3, 16), 16), "7.bias": uniform((3,), 16),
}
x = rng.standard_normal((4, 2, 6, 6))
h = np.maximum(conv2d(x, w["0.weight"], w["0.bias"], 1, 1), 0)
h = avgpool2d(h, 2)
h = h + np.tanh(conv2d(h, w["3.layers.0.weight"], w["3.layers.0.bias"], 1, 1))
h = 1 / (1 + np.exp(-conv2d(h, w["4.weight"], w["4.bias"], 1, 0)))
y = linear(h.reshape(4, -1), w["7.weight"], w["7.bias"])
write("cnn", cnn_spec, w, np.float64, x.reshape(4, -1), y)
