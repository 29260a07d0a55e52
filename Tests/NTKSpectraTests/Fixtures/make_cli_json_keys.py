#!/usr/bin/env python3
"""The top-level JSON keys, in output order, of every `ntk-spectra` command that prints JSON,
as the built tool printed them before the CLI was thinned (issue #11, item 4). The CLI tests
(`ReportSchemaTests`) run the same invocations in-process and compare against this file, so a
field renamed, dropped or reordered fails; a field added needs this file regenerated.

Usage: make_cli_json_keys.py PATH/TO/ntk-spectra > cli_json_keys.json
(run from the repository root; the invocations are those of `ReportSchemaTests.cases`).
"""
import json
import os
import subprocess
import sys
import tempfile

FIX = "Tests/NTKSpectraTests/Fixtures"
MODEL = ["--model", f"{FIX}/mlp.json", "--weights", f"{FIX}/mlp.safetensors", "--inputs", f"{FIX}/mlp_inputs.npy"]


def cases(scratch):
    x, y = f"{scratch}/x.npy", f"{scratch}/y.npy"
    return {
        "estimate": ["estimate", *MODEL, "--route", "matrix-free", "--precision", "double", "--format", "json", "--quiet"],
        "estimate-dense": ["estimate", *MODEL, "--route", "dense", "--format", "json", "--quiet"],
        "validate": ["validate", *MODEL, "--route", "matrix-free", "--precision", "double", "--format", "json", "--quiet"],
        "exact": ["exact", *MODEL, "--format", "json"],
        "exact-blocks": ["exact", *MODEL, "--blocks", "2", "--block-size", "10", "--format", "json"],
        "density": ["density", *MODEL, "--points", "64", "--out", f"{scratch}/d.csv", "--format", "json"],
        "bench-matvec": ["bench", "matvec", *MODEL, "--repeats", "1"],
        "bench-entropy": ["bench", "entropy", *MODEL, "--route", "matrix-free", "--precision", "double", "--format",
                          "json", "--quiet"],
        "train": ["train", "--dataset", "moons", "--samples", "100", "--hidden", "4", "--epochs", "1", "--batch-size",
                  "16", "--monitor-every", "5", "--monitor-examples", "6", "--output", f"{scratch}/train"],
        "ensemble": ["ensemble", "--inputs", x, "--targets", y, "--widths", "8", "--seeds", "2", "--steps", "2",
                     "--format", "json"],
    }


def keys(pairs):
    return pairs  # keep the order of the text


def main():
    tool = sys.argv[1]
    with tempfile.TemporaryDirectory() as scratch:
        # The ensemble's data: 6 inputs of 4 features and one target each (any finite values).
        import struct
        def npy(path, shape, values):
            header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{s}, " for s in shape)
            header += " " * (63 - (10 + len(header)) % 64) + "\n"
            with open(path, "wb") as f:
                f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
                f.write(struct.pack(f"<{len(values)}d", *values))
        npy(f"{scratch}/x.npy", [6, 4], [((i * 7) % 11 - 5) / 5 for i in range(24)])
        npy(f"{scratch}/y.npy", [6], [((i * 3) % 5 - 2) / 2 for i in range(6)])
        out = {}
        for name, args in cases(scratch).items():
            r = subprocess.run([tool, *args], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"{name}: {r.stderr}")
            obj = json.loads(r.stdout, object_pairs_hook=lambda p: p)
            out[name] = [k for k, _ in obj]
            if name == "ensemble":
                cell = dict(obj)["cells"][0]
                out["ensemble.cells"] = [k for k, _ in cell]
                out["ensemble.cells.initial"] = [k for k, _ in dict(cell)["initial"]]
    print(json.dumps(out, indent=1))


main()
