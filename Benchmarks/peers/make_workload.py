"""Write an MLP workload (spec JSON, weights F32 and F64 safetensors, inputs .npy) for the peer benchmarks.

Network: input_dim -> [width, activation] x depth -> k, PyTorch nn.Linear default initialisation
(weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the bound of kaiming_uniform_(a=sqrt(5))),
drawn with numpy's default_rng(seed); inputs x_i ~ N(0, I) from the same generator.

Files written to --out: model.json, weights_f64.safetensors, weights_f32.safetensors (the F64 values
rounded), inputs.npy (float64), inputs_f32.npy.

Example: python make_workload.py --width 1024 --depth 2 --input-dim 64 --n 1024 --k 1 --seed 0 \
           --activation tanh --out /tmp/w1024
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--depth", type=int, default=2, help="number of hidden layers")
    ap.add_argument("--input-dim", type=int, default=64)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--activation", choices=("tanh", "relu", "gelu"), default="tanh")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    for name in ("width", "depth", "input_dim", "n", "k"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(a, name)}")

    from safetensors.numpy import save_file

    rng = np.random.default_rng(a.seed)
    layers, tensors = [], {}
    sizes = [a.input_dim] + [a.width] * a.depth + [a.k]
    for i, (fin, fout) in enumerate(zip(sizes[:-1], sizes[1:])):
        index = 2 * i
        bound = 1.0 / np.sqrt(fin)
        tensors[f"{index}.weight"] = rng.uniform(-bound, bound, size=(fout, fin))
        tensors[f"{index}.bias"] = rng.uniform(-bound, bound, size=(fout,))
        layers.append({"type": "linear", "in_features": fin, "out_features": fout, "bias": True})
        if i < a.depth:
            layers.append({"type": a.activation})
    spec = {"input_shape": [a.input_dim], "parameterization": "standard", "layers": layers}
    x = rng.standard_normal((a.n, a.input_dim))

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "model.json"), "w") as f:
        json.dump(spec, f, indent=1)
    save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in tensors.items()},
              os.path.join(a.out, "weights_f64.safetensors"))
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
              os.path.join(a.out, "weights_f32.safetensors"))
    np.save(os.path.join(a.out, "inputs.npy"), x.astype(np.float64))
    np.save(os.path.join(a.out, "inputs_f32.npy"), x.astype(np.float32))
    count = sum(v.size for v in tensors.values())
    print(json.dumps({"out": a.out, "parameter_count": int(count), "n": a.n, "k": a.k, "width": a.width,
                      "depth": a.depth, "input_dim": a.input_dim, "activation": a.activation, "seed": a.seed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
