"""Export a PyTorch module to ONNX for NTKSpectra, with a float64 reference NTK spectrum (issue #14).

NTKSpectra's ONNX import analyses a PyTorch network *unchanged*: it reads the ONNX graph, treats the
initializers that are the module's parameters as the parameters theta, and computes the empirical NTK
K = J J^T, J = d vec(f(theta, X)) / d theta. This helper produces the three files it needs and an
independent reference to compare with:

  * MODEL.onnx            torch.onnx.export of module.eval(), float32 or float64, dynamic batch dimension;
  * MODEL_inputs.npy      the inputs X [n, ...] (float, or int64 token ids for embedding models);
  * MODEL_reference.json  the reference empirical NTK computed here in float64 with torch.func:
                          trace, entropy, top eigenvalues, n, k, parameter count, the forward outputs,
                          torch / onnx versions, exporter, opset, the ONNX op types and initializers.

Conventions (those of NTKSpectra and Benchmarks/peers/README.md): K is the full (n*k) x (n*k) kernel,
rows sample-major (index i*k + c); the spectrum statistics clip eigenvalues at 0, p = lambda / sum lambda,
entropy = -sum p ln p over p > 0 (natural log), trace = sum lambda. The parameters are exactly
`module.parameters()` (parameter count = sum(p.numel() for p in module.parameters())); buffers such as
BatchNorm's running_mean / running_var are constants of the function, not parameters.

Why constant folding must be off
--------------------------------
torch.onnx.export's TorchScript exporter defaults to do_constant_folding=True. With it, every
subexpression that depends only on initializers is evaluated at export time and stored as a new
constant: eval-mode BatchNorm is folded into the preceding convolution (W' = W * gamma / sqrt(var + eps),
b' = beta + (b - mean) * gamma / sqrt(var + eps)), a Linear's weight may be stored pre-transposed,
MultiheadAttention's in_proj_weight pre-sliced into q/k/v blocks, and so on. The forward function is
unchanged, but the *parameterization* is not: the folded network has different parameters (W' instead of
W, gamma, beta; one tensor instead of three), so its Jacobian J, and hence K = J J^T, is the NTK of a
different network (gamma and beta disappear as parameters; the gradient w.r.t. W' differs from the one
w.r.t. W by the per-channel factor gamma / sqrt(var + eps)). The empirical NTK depends on the
parameterization, not only on the function, so this helper always exports with do_constant_folding=False
(TorchScript exporter, dynamo=False) and with optimize=False (the dynamo exporter, dynamo=True, whose
onnxscript optimizer does the same kind of folding and fusion). Each module parameter then appears as
one ONNX initializer with the parameter's state_dict name and shape; "parameters" in the JSON lists
them and says whether the exported file has that initializer (the importer must differentiate exactly
those, and treat every other initializer - BatchNorm running statistics, shape constants - as constant).

Tied parameters: the TorchScript exporter also merges parameters whose *values* are equal (its
deduplicate_initializers pass, in eval mode) - e.g. the all-ones LayerNorm weights and all-zeros biases of
a freshly initialized transformer - and that would tie independent parameters. export_onnx undoes it (each
merged parameter gets its own initializer again, see export_onnx), and write_bundle refuses a file in which a
module parameter is not an initializer holding exactly the parameter's values.

Checks recorded per exported file: onnx.checker (full_check), the outputs of onnx.reference.ReferenceEvaluator
(numpy, float64) and of onnxruntime (if installed) against PyTorch's, on all inputs and on half of them (the
dynamic batch dimension). onnxruntime 1.32's CPU provider has no float64 Conv or Erf kernel; for such files
a float32 export of the same module is run instead (recorded as onnxruntime_check_float32_export).

Usage as a library:
    import onnx_export as ox
    ox.export_onnx(module, x, "model.onnx", exporter="torchscript", opset=17, dtype="float64")
    ref = ox.reference_record(module, x)               # float64 NTK statistics (dict)
    ox.write_bundle(module, x, "out/model", exporters=[("torchscript", 17), ("dynamo", 18)])

Usage from the command line, for a module constructed by a Python callable (no arguments):
    python onnx_export.py --factory mypkg.models:make_model --inputs x.npy --out out/model \
        --exporter torchscript --opset 17 --dtype float64
    python onnx_export.py --factory torchvision.models:resnet18 --random-inputs 4,3,32,32 --seed 0 \
        --out out/resnet18 --exporter dynamo --opset 18 --reference-method vjp
(--random-inputs N,D1,... draws standard normal float inputs; --random-tokens N,L,VOCAB draws int64 ids.)
It writes OUT.onnx (OUT_dynamo.onnx for the second exporter when --exporter both), OUT_inputs.npy and
OUT_reference.json, and prints the reference as one JSON line. --check-jacobian compares the torch.func
kernel with an explicit J J^T (one autograd.grad per output row; small models only).

Needs: torch (CPU is enough), onnx; onnxscript for the dynamo exporter; onnxruntime (optional) to compare
the ONNX file's outputs with PyTorch's ("onnxruntime" in the JSON).
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import sys
from typing import Any, Iterable, Sequence

import numpy as np

EXPORTERS = ("torchscript", "dynamo")
OPSETS = tuple(range(13, 21))


class ExportError(Exception):
    """A bad argument or a failed export; the message says what and why."""


# --------------------------------------------------------------------------------------------
# Spectrum statistics (the conventions of Benchmarks/peers/workload.py)
# --------------------------------------------------------------------------------------------

def spectrum_statistics(eigenvalues: np.ndarray, top: int = 10) -> dict:
    """trace, entropy (clipped at 0, p = lambda / sum, -sum p ln p over p > 0), top eigenvalues (descending)."""
    lam = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0.0, None)
    total = float(lam.sum())
    p = lam[lam > 0] / total if total > 0 else np.zeros(0)
    entropy = float(-(p * np.log(p)).sum())
    ordered = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    return {"trace": total, "entropy": entropy, "dimension": int(lam.size),
            "effective_entropy": entropy / math.log(lam.size) if lam.size > 1 else 0.0,
            "lambda_max": float(ordered[0]) if lam.size else 0.0,
            "lambda_min": float(ordered[-1]) if lam.size else 0.0,
            "top_eigenvalues": [float(v) for v in ordered[:top]]}


# --------------------------------------------------------------------------------------------
# Reference NTK (float64, torch.func)
# --------------------------------------------------------------------------------------------

def _as_tensor(x, dtype):
    import torch
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    return t if not t.is_floating_point() else t.to(dtype)


def _functional(module, x):
    """(f, params): f(params) = module(x) reshaped to [n, k] with the buffers fixed; params detached float64."""
    import torch
    from torch.func import functional_call
    params = {name: p.detach() for name, p in module.named_parameters()}
    buffers = {name: b.detach() for name, b in module.named_buffers()}

    def f(p):
        out = functional_call(module, (p, buffers), (x,))
        if not isinstance(out, torch.Tensor):
            raise ExportError(f"the module returned {type(out).__name__}; NTKSpectra needs one tensor [n, k]")
        return out.reshape(out.shape[0], -1)

    return f, params


def reference_kernel(module, inputs, method: str = "jacobian"):
    """The full empirical NTK K [(n k), (n k)] in float64, rows sample-major (i k + c), and the outputs [n, k].

    method "jacobian": torch.func.jacrev of the batched forward w.r.t. every parameter, K = sum over
    parameters of J_p J_p^T (memory n k x P for the largest parameter block). method "vjp": K's columns as
    J (J^T e_j) with torch.func.vjp / jvp vmapped over the n k unit vectors (memory of one n k-column batch of
    parameter-sized gradients; the route for large models). The module is deep-copied, cast to float64 and put
    in eval mode; the caller's module is not changed.
    """
    import copy

    import torch
    from torch.func import jacrev, jvp, vjp, vmap

    model = copy.deepcopy(module).to(torch.float64).eval()
    x = _as_tensor(inputs, torch.float64)
    f, params = _functional(model, x)
    with torch.no_grad():
        out = f(params)
    n, k = out.shape
    if method == "jacobian":
        jac = jacrev(f)(params)  # name -> [n, k, *shape]
        kernel = torch.zeros(n * k, n * k, dtype=torch.float64)
        for block in jac.values():
            jb = block.reshape(n * k, -1)
            kernel += jb @ jb.T
    elif method == "vjp":
        _, vjp_fn = vjp(f, params)

        def column(g):
            return jvp(f, (params,), (g,))[1].reshape(-1)

        eye = torch.eye(n * k, dtype=torch.float64).reshape(n * k, n, k)
        (grads,) = vmap(vjp_fn)(eye)
        kernel = vmap(column)(grads).T.contiguous()
    else:
        raise ExportError(f"reference method '{method}', expected 'jacobian' or 'vjp'")
    return kernel.detach().numpy(), out.detach().numpy()


def explicit_jacobian_kernel(module, inputs):
    """K = J J^T with J assembled row by row with torch.autograd.grad (no torch.func): the cross-check."""
    import copy

    import torch
    model = copy.deepcopy(module).to(torch.float64).eval()
    x = _as_tensor(inputs, torch.float64)
    params = list(model.parameters())
    out = model(x)
    out = out.reshape(out.shape[0], -1).reshape(-1)
    rows = []
    for j in range(out.numel()):
        grads = torch.autograd.grad(out[j], params, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                               for g, p in zip(grads, params)]))
    jac = torch.stack(rows)
    return (jac @ jac.T).detach().numpy()


def reference_record(module, inputs, *, method: str = "jacobian", top: int = 10, check_jacobian: bool = False) -> dict:
    """The reference statistics of the module's empirical NTK on `inputs` (float64), as a JSON-ready dict."""
    kernel, outputs = reference_kernel(module, inputs, method)
    n, k = outputs.shape
    asym = float(np.abs(kernel - kernel.T).max() / max(np.abs(kernel).max(), 1e-300))
    kernel = 0.5 * (kernel + kernel.T)
    eig = np.linalg.eigvalsh(kernel)
    traced = np.einsum("icjc->ij", kernel.reshape(n, k, n, k))
    record = {"n": int(n), "k": int(k), "dimension": int(n * k),
              "parameter_count": int(sum(p.numel() for p in module.parameters())),
              "precision": "float64", "method": f"torch.func {method}", "layout": "sample-major i*k+c",
              "relative_asymmetry": asym}
    record.update(spectrum_statistics(eig, top))
    record["traced"] = spectrum_statistics(np.linalg.eigvalsh(traced), top)  # sum over c of K[ic, jc], n x n
    record["outputs"] = outputs.tolist()
    if check_jacobian:
        explicit = explicit_jacobian_kernel(module, inputs)
        diff = float(np.abs(explicit - kernel).max())
        record["jacobian_check"] = {"max_abs_difference": diff,
                                    "relative": diff / max(float(np.abs(explicit).max()), 1e-300),
                                    "what": "torch.func kernel vs explicit J J^T (autograd.grad per output row)"}
    record["versions"] = versions()
    return record


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------

def _torch_dtype(dtype: str):
    import torch
    if dtype in ("float64", "double"):
        return torch.float64
    if dtype in ("float32", "float"):
        return torch.float32
    raise ExportError(f"dtype '{dtype}', expected float32 or float64")


def prepare(module, inputs, dtype: str = "float64"):
    """(module in eval mode cast to dtype, inputs as a tensor: float inputs cast to dtype, integer ids kept)."""
    import torch
    td = _torch_dtype(dtype)
    module = module.to(td).eval()  # module.double() / module.float()
    return module, _as_tensor(inputs, td)


def export_onnx(module, inputs, path: str, *, exporter: str = "torchscript", opset: int = 17,
                dtype: str = "float64", dynamic_batch: bool = True, input_name: str = "input",
                output_name: str = "output", external_data: bool = False, keep_initializers_as_inputs: bool = False,
                strip_metadata: bool = True) -> dict:
    """Export module to `path` (the module is put in eval mode and cast to dtype in place, as module.double()
    does); returns notes on what was done ({"untied": [...], "stripped_metadata": bool, ...}).

    exporter "torchscript": torch.onnx.export(dynamo=False, do_constant_folding=False, dynamic_axes={0: batch}).
    exporter "dynamo": torch.onnx.export(dynamo=True, optimize=False, dynamic_shapes={0: Dim("batch")}).
    Both keep the parameters as initializers named as in module.state_dict() (see the module docstring for
    why constant folding must be off), with one exception that is undone here: the TorchScript exporter's
    deduplicate_initializers pass (run in eval mode unless keep_initializers_as_inputs=True) merges
    parameters with *equal values* - at PyTorch's default initialization LayerNorm weights (ones), LayerNorm
    and MultiheadAttention out_proj biases (zeros) - into one initializer and re-creates the others with
    Identity nodes. That ties parameters that are independent in the module, and the NTK of the tied network
    is different (one parameter's gradient is the sum of the merged ones'). Such Identity(initializer) ->
    parameter-name nodes are replaced by initializers of their own ("untied" in the notes); afterwards
    inspect_onnx checks that every module parameter is an initializer with the parameter's values.
    keep_initializers_as_inputs=True instead keeps every initializer also as a graph input (the pass is then
    skipped). strip_metadata removes node doc strings and metadata_props (the dynamo exporter stores the
    Python stack trace and FX node of every node there, ~2.5 KB a node); the graph is unchanged.
    Models above 2 GB need external_data=True (a PATH.data file beside).
    """
    import torch
    if exporter not in EXPORTERS:
        raise ExportError(f"exporter '{exporter}', expected one of {', '.join(EXPORTERS)}")
    if opset not in OPSETS:
        raise ExportError(f"opset {opset}, expected {OPSETS[0]}...{OPSETS[-1]}")
    module, x = prepare(module, inputs, dtype)
    if x.shape[0] < 2 and dynamic_batch:
        raise ExportError("use at least 2 example inputs with a dynamic batch dimension (torch.export "
                          "specializes a dimension of size 1)")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    notes: dict[str, Any] = {"keep_initializers_as_inputs": keep_initializers_as_inputs}
    with torch.no_grad():
        if exporter == "torchscript":
            torch.onnx.export(module, (x,), path, dynamo=False, opset_version=opset, do_constant_folding=False,
                              export_params=True, keep_initializers_as_inputs=keep_initializers_as_inputs,
                              training=torch.onnx.TrainingMode.EVAL,
                              input_names=[input_name], output_names=[output_name],
                              dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}} if dynamic_batch
                              else None)
        else:
            shapes = {_forward_arg_name(module): {0: torch.export.Dim("batch")}} if dynamic_batch else None
            program = torch.onnx.export(module, (x,), dynamo=True, optimize=False, opset_version=opset,
                                        input_names=[input_name], output_names=[output_name],
                                        dynamic_shapes=shapes, external_data=external_data)
            if program is None:
                raise ExportError("torch.onnx.export(dynamo=True) returned no ONNXProgram")
            program.save(path, external_data=external_data)
    notes.update(_postprocess(path, [name for name, _ in module.named_parameters()], strip_metadata, external_data))
    return notes


def _postprocess(path: str, parameter_names: list[str], strip_metadata: bool, external_data: bool) -> dict:
    """Untie deduplicated parameters (Identity(initializer) -> parameter name) and strip node metadata."""
    import onnx
    model = onnx.load(path)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    wanted = set(parameter_names)
    untied, keep = [], []
    for node in graph.node:
        if (node.op_type == "Identity" and node.domain in ("", "ai.onnx") and node.input[0] in inits
                and node.output[0] in wanted and node.output[0] not in inits):
            copy = onnx.TensorProto()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            graph.initializer.append(copy)
            untied.append({"parameter": node.output[0], "was_identity_of": node.input[0]})
        else:
            keep.append(node)
    if untied:
        del graph.node[:]
        graph.node.extend(keep)
    stripped = False
    if strip_metadata:
        def strip(g):
            nonlocal stripped
            for node in g.node:
                if node.metadata_props or node.doc_string:
                    stripped = True
                del node.metadata_props[:]
                node.doc_string = ""
                for attr in node.attribute:
                    if attr.type == onnx.AttributeProto.GRAPH:
                        strip(attr.g)
                    for sub in attr.graphs:
                        strip(sub)
            for v in list(g.value_info) + list(g.input) + list(g.output):
                if hasattr(v, "metadata_props"):
                    del v.metadata_props[:]
        strip(graph)
    if untied or stripped:
        onnx.save(model, path, save_as_external_data=external_data)
    return {"untied": untied, "stripped_metadata": stripped}


def _forward_arg_name(module) -> str:
    import inspect
    names = [p for p in inspect.signature(module.forward).parameters]
    if not names:
        raise ExportError("module.forward takes no argument")
    return names[0]


def inspect_onnx(path: str, module=None) -> dict:
    """Opset, op types (sorted, with counts), initializers (name, dtype, shape), graph inputs/outputs,
    onnx.checker result, file size, and for each module parameter whether an initializer of that name and
    shape exists."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    checker = "ok"
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # checker raises ValidationError / InferenceError
        checker = f"failed: {e}"

    counts: dict[str, int] = {}

    def walk(graph):
        for node in graph.node:
            key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
            counts[key] = counts.get(key, 0) + 1
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(model.graph)
    for fn in model.functions:  # local functions (dynamo exporter, if not inlined)
        for node in fn.node:
            key = f"{fn.name}/{node.op_type}"
            counts[key] = counts.get(key, 0) + 1

    def type_name(elem: int) -> str:
        return onnx.helper.tensor_dtype_to_np_dtype(elem).name if elem else "undefined"

    inits = []
    for t in model.graph.initializer:
        inits.append({"name": t.name, "dtype": type_name(t.data_type), "shape": list(t.dims)})
    constants = []
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    arr = numpy_helper.to_array(attr.t)
                    constants.append({"output": node.output[0], "dtype": arr.dtype.name, "shape": list(arr.shape)})

    def value_info(v):
        tt = v.type.tensor_type
        dims = [d.dim_param if d.dim_param else d.dim_value for d in tt.shape.dim]
        return {"name": v.name, "dtype": type_name(tt.elem_type), "shape": dims}

    record = {"file": os.path.basename(path), "bytes": os.path.getsize(path), "ir_version": int(model.ir_version),
              "opset": {imp.domain or "ai.onnx": int(imp.version) for imp in model.opset_import},
              "producer": f"{model.producer_name} {model.producer_version}".strip(),
              "checker": checker, "op_types": dict(sorted(counts.items())),
              "inputs": [value_info(v) for v in model.graph.input],
              "outputs": [value_info(v) for v in model.graph.output],
              "initializers": inits,
              "initializer_dtypes": sorted({i["dtype"] for i in inits}),
              "constant_node_dtypes": sorted({c["dtype"] for c in constants}),
              "local_functions": [f"{fn.domain}::{fn.name}" for fn in model.functions]}
    if module is not None:
        by_name = {i["name"]: i for i in inits}
        params = []
        for name, p in module.named_parameters():
            init = by_name.get(name)
            params.append({"name": name, "shape": list(p.shape),
                           "initializer": bool(init is not None and init["shape"] == list(p.shape))})
        values = {t.name: t for t in model.graph.initializer}
        state = dict(module.named_parameters())
        for p in params:
            if p["initializer"]:
                got = numpy_helper.to_array(values[p["name"]])
                p["values_equal"] = bool(np.array_equal(got, state[p["name"]].detach().cpu().numpy()))
        record["parameters_as_initializers"] = all(p["initializer"] for p in params)
        record["parameter_values_equal"] = all(p.get("values_equal", False) for p in params)
        record["missing_parameters"] = [p["name"] for p in params if not p["initializer"]]
        record["non_parameter_initializers"] = [i["name"] for i in inits
                                                if i["name"] not in {n for n, _ in module.named_parameters()}]
    return record


def onnxruntime_check(path: str, inputs: np.ndarray, expected: np.ndarray) -> dict:
    """Run the file with onnxruntime (if installed; graph optimizations off) on `inputs` and on the first half of
    them (dynamic batch); max |difference| with PyTorch's outputs. onnxruntime's CPU provider has no float64
    kernels for some ops (Conv, Erf in 1.32): then status is "not_implemented" with the message."""
    try:
        import onnxruntime as ort
    except ImportError:
        return {"status": "onnxruntime not installed"}
    try:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        got = session.run(None, {name: inputs})[0]
        half = max(1, inputs.shape[0] // 2)
        got_half = session.run(None, {name: inputs[:half]})[0]
    except Exception as e:  # onnxruntime raises its own Fail / InvalidGraph / NotImplemented types
        message = str(e).splitlines()[0][:400]
        status = "not_implemented" if "NOT_IMPLEMENTED" in message else "error"
        return {"status": status, "onnxruntime": ort.__version__, "error": message}
    return _compare(got, got_half, expected, half) | {"onnxruntime": ort.__version__}


def reference_evaluator_check(path: str, inputs: np.ndarray, expected: np.ndarray) -> dict:
    """The same comparison with onnx.reference.ReferenceEvaluator (numpy, runs the ops in the file's dtype).

    Its Erf (onnx 1.23) rounds through float32 (np.vectorize(math.erf, otypes=["f"])), which alone makes a
    float64 GELU differ by ~1e-9; it is replaced here by a float64 one."""
    try:
        from onnx.reference import ReferenceEvaluator
        from onnx.reference.op_run import OpRun

        class Erf(OpRun):
            op_domain = ""

            def _run(self, x):
                return (np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype),)

        session = ReferenceEvaluator(path, new_ops=[Erf])
        name = session.input_names[0]
        got = session.run(None, {name: inputs})[0]
        half = max(1, inputs.shape[0] // 2)
        got_half = session.run(None, {name: inputs[:half]})[0]
    except Exception as e:  # the evaluator raises per-op errors of many types
        return {"status": "error", "error": f"{type(e).__name__}: {str(e).splitlines()[0][:400]}"}
    return _compare(got, got_half, expected, half)


def _compare(got, got_half, expected, half) -> dict:
    got = np.asarray(got).reshape(np.shape(got)[0], -1)
    got_half = np.asarray(got_half).reshape(np.shape(got_half)[0], -1)
    diff = float(np.abs(got.astype(np.float64) - expected).max())
    diff_half = float(np.abs(got_half.astype(np.float64) - expected[:half]).max())
    return {"status": "ok", "max_abs_difference": diff, "batch_of_" + str(half) + "_max_abs_difference": diff_half,
            "output_dtype": got.dtype.name}


def _float32_onnxruntime(module, x, exporter: str, opset: int, expected: np.ndarray, dynamic_batch: bool) -> dict:
    """onnxruntime on a float32 export of a copy of the module (a temporary file): checks the exported graph
    where onnxruntime lacks float64 kernels. Differences are float32 roundoff."""
    import copy
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model_f32.onnx")
        m32, x32 = prepare(copy.deepcopy(module), x, "float32")
        export_onnx(m32, x32, path, exporter=exporter, opset=opset, dtype="float32", dynamic_batch=dynamic_batch)
        result = onnxruntime_check(path, x32.numpy(), expected)
    result["what"] = "float32 export of the same module (not the committed file), compared with the float64 outputs"
    return result


def versions() -> dict:
    info = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("torch", "onnx", "onnxscript", "onnxruntime"):
        try:
            info[name] = importlib.import_module(name).__version__
        except ImportError:
            info[name] = None
    return info


def write_bundle(module, inputs, out: str, *, exporters: Sequence[tuple[str, int]] = (("torchscript", 17),),
                 dtype: str = "float64", method: str = "jacobian", top: int = 10, check_jacobian: bool = False,
                 dynamic_batch: bool = True, extra: dict | None = None) -> dict:
    """Export with each (exporter, opset) - OUT.onnx for the first, OUT_EXPORTER.onnx for the others -, write
    OUT_inputs.npy and OUT_reference.json; returns the reference record. An exporter that fails is recorded
    with its error (status "failed") and the others still run; the first one must succeed."""
    import torch
    module, x = prepare(module, inputs, dtype)
    x_np = x.detach().numpy()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.save(f"{out}_inputs.npy", x_np)
    record = reference_record(module, x, method=method, top=top, check_jacobian=check_jacobian)
    expected = np.asarray(record["outputs"], dtype=np.float64)
    exports = []
    for index, (exporter, opset) in enumerate(exporters):
        path = f"{out}.onnx" if index == 0 else f"{out}_{exporter}.onnx"
        entry: dict[str, Any] = {"exporter": exporter, "opset_requested": opset, "dtype": dtype,
                                 "do_constant_folding": False if exporter == "torchscript" else None,
                                 "optimize": False if exporter == "dynamo" else None}
        try:
            notes = export_onnx(module, x, path, exporter=exporter, opset=opset, dtype=dtype,
                                dynamic_batch=dynamic_batch)
        except Exception as e:  # the exporters raise many types; the first line says what failed
            if index == 0:
                raise
            entry.update({"status": "failed", "error": f"{type(e).__name__}: {str(e).splitlines()[0][:400]}"})
            if os.path.exists(path):
                os.remove(path)
            exports.append(entry)
            continue
        entry["status"] = "ok"
        entry.update(notes)
        entry.update(inspect_onnx(path, module))
        if not (entry["parameters_as_initializers"] and entry["parameter_values_equal"]):
            raise ExportError(f"{path}: the module parameters {entry['missing_parameters']} are not initializers "
                              "of the exported file (or their values differ): the ONNX file's parameterization "
                              "is not the module's")
        entry["reference_evaluator_check"] = reference_evaluator_check(path, x_np, expected)
        entry["onnxruntime_check"] = onnxruntime_check(path, x_np, expected)
        if entry["onnxruntime_check"]["status"] == "not_implemented" and dtype == "float64":
            entry["onnxruntime_check_float32_export"] = _float32_onnxruntime(module, x, exporter, opset, expected,
                                                                             dynamic_batch)
        exports.append(entry)
    first = exports[0]
    record = {"model": os.path.basename(out), "onnx_file": first["file"], "inputs_file": f"{os.path.basename(out)}_inputs.npy",
              "input_dtype": x_np.dtype.name, "input_shape": list(x_np.shape),
              "exporter": first["exporter"], "opset": first["opset"].get("ai.onnx"), "dtype": dtype,
              "torch_version": torch.__version__, **(extra or {}), **record,
              "parameters": [{"name": name, "shape": list(p.shape), "numel": int(p.numel())}
                             for name, p in module.named_parameters()],
              "buffers": [{"name": name, "shape": list(b.shape), "dtype": str(b.dtype).replace("torch.", "")}
                          for name, b in module.named_buffers()],
              "exports": exports}
    with open(f"{out}_reference.json", "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    return record


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def _ints(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise ExportError(f"{what}: '{text}' is not a comma-separated list of integers") from None
    if any(v <= 0 for v in values):
        raise ExportError(f"{what}: '{text}' has a non-positive entry")
    return values


def _factory(spec: str):
    if ":" not in spec:
        raise ExportError(f"--factory '{spec}': expected module.path:callable")
    mod, _, attr = spec.partition(":")
    try:
        fn = getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as e:
        raise ExportError(f"--factory '{spec}': {e}") from e
    return fn()


def parse(argv: Iterable[str] | None = None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--factory", required=True, help="module.path:callable returning the nn.Module (no arguments); "
                    "the current directory is on sys.path")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--inputs", help=".npy inputs [n, ...] (float, or integer token ids)")
    src.add_argument("--random-inputs", help="N,D1,D2,...: standard normal float inputs of shape [N, D1, ...]")
    src.add_argument("--random-tokens", help="N,L,VOCAB: int64 token ids in [0, VOCAB) of shape [N, L]")
    ap.add_argument("--seed", type=int, default=0, help="torch.manual_seed before the factory and the random inputs")
    ap.add_argument("--out", required=True, help="output prefix: OUT.onnx, OUT_inputs.npy, OUT_reference.json")
    ap.add_argument("--exporter", choices=EXPORTERS + ("both",), default="torchscript")
    ap.add_argument("--opset", type=int, default=17, choices=OPSETS,
                    help="opset of the (first) exporter (default 17)")
    ap.add_argument("--dynamo-opset", type=int, default=18, choices=OPSETS, help="opset of the dynamo exporter "
                    "with --exporter both (default 18)")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float64", help="of the exported file "
                    "(the reference NTK is always float64)")
    ap.add_argument("--static-batch", action="store_true", help="no dynamic batch dimension")
    ap.add_argument("--reference-method", choices=("jacobian", "vjp"), default="jacobian")
    ap.add_argument("--top", type=int, default=10, help="eigenvalues listed (default 10)")
    ap.add_argument("--check-jacobian", action="store_true", help="also compare with an explicit J J^T")
    return ap.parse_args(argv)


def main(argv: Iterable[str] | None = None) -> int:
    a = parse(argv)
    import torch
    torch.manual_seed(a.seed)
    sys.path.insert(0, os.getcwd())
    try:
        module = _factory(a.factory)
        if a.inputs:
            x = np.load(a.inputs)
        elif a.random_inputs:
            shape = _ints(a.random_inputs, "--random-inputs")
            x = torch.randn(*shape, dtype=torch.float64).numpy()
        else:
            n, length, vocab = _ints(a.random_tokens, "--random-tokens")
            x = torch.randint(0, vocab, (n, length), dtype=torch.int64).numpy()
        if a.exporter == "both":
            exporters = [("torchscript", a.opset), ("dynamo", a.dynamo_opset)]
        else:
            exporters = [(a.exporter, a.opset)]
        record = write_bundle(module, x, a.out, exporters=exporters, dtype=a.dtype, method=a.reference_method,
                              top=a.top, check_jacobian=a.check_jacobian, dynamic_batch=not a.static_batch)
    except ExportError as e:
        print(json.dumps({"status": "error", "error": str(e)}))
        return 2
    summary = {k: record[k] for k in ("model", "exporter", "opset", "n", "k", "parameter_count", "trace", "entropy",
                                      "top_eigenvalues")}
    summary["exports"] = [{k: e.get(k) for k in ("file", "exporter", "status", "checker", "op_types", "error")}
                          for e in record["exports"]]
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
