"""ONNX fixtures for NTKSpectra's ONNX import (issue #14): small randomly initialized PyTorch models in eval
mode, exported unchanged, with float64 reference NTK spectra.

For each model NAME this writes, in this directory:
  NAME.onnx             float64, TorchScript exporter (dynamo=False), opset 17, do_constant_folding=False,
                        dynamic batch dimension ("batch"), input "input", output "output";
  NAME_dynamo.onnx      the same module with the dynamo exporter (dynamo=True, optimize=False), opset 18
                        (every model here; see README.md if one fails);
  NAME_inputs.npy       the inputs [n, ...]: float64, or int64 token ids (transformer_tiny);
  NAME_reference.json   the reference empirical NTK computed with torch.func in float64 (full kernel
                        (n k) x (n k), rows sample-major i*k + c; trace, entropy with eigenvalues clipped
                        at 0 and the natural log, all eigenvalues in descending order), the PyTorch outputs,
                        the parameter list (the ONNX initializers to differentiate), the buffers, and per
                        exported file its op types, initializers, onnx.checker and onnxruntime results.

Models (seeds fixed; PyTorch default initialization, then the BatchNorm statistics and affine parameters
set to non-trivial random values so that eval-mode BatchNorm is really tested):
  mlp_dropout      Linear(6,16)-ReLU-Dropout(0.1)-Linear(16,12)-Tanh-Linear(12,3); n = 8, k = 3
  resnet_small     torchvision-style ResNet: conv3x3(3->4) + BN + ReLU + MaxPool(3, 2, 1), BasicBlock(4->4,
                   identity shortcut), BasicBlock(4->8, stride 2, 1x1-conv + BN projection shortcut),
                   AdaptiveAvgPool2d(1), flatten, Linear(8,3); input [3, 8, 8], n = 6, k = 3
  densenet_block   DenseNet-style block: 2 x (BN-ReLU-Conv3x3, growth 4, output concatenated with the input
                   on channels: 3 -> 7 -> 11), BN-ReLU, AvgPool2d(2), flatten, Linear(99,3); input [3, 6, 6],
                   n = 6, k = 3
  transformer_tiny Embedding(11, 8) + learned positional parameter [5, 8] + 1-layer nn.TransformerEncoder
                   (d_model 8, nhead 2, dim_feedforward 16, dropout 0.0, gelu, batch_first, post-norm), mean
                   over tokens, Linear(8,2); int64 token ids [n, 5], n = 8, k = 2

The mlp_dropout reference is cross-checked against an explicit J J^T (autograd.grad per output row) to 1e-12
(the script stops otherwise).

Run (from anywhere; needs torch, onnx, onnxscript; onnxruntime optional):
    /work/venv-onnx/bin/python Tests/NTKONNXTests/Fixtures/make_fixtures.py
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "Benchmarks", "peers"))
import onnx_export as ox  # noqa: E402

# The eval-mode fast path of nn.TransformerEncoderLayer / nn.MultiheadAttention
# (torch._transformer_encoder_layer_fwd, torch._native_multi_head_attention) is a fused kernel: the
# TorchScript exporter has no symbolic for it and torch.func cannot differentiate through it reliably. It is
# only taken when autograd is off, which is the case inside torch.onnx.export. Turning it off makes the
# exporters see the composite (Linear / softmax / LayerNorm) path, the same one the reference NTK
# differentiates; the function is the same.
torch.backends.mha.set_fastpath_enabled(False)
torch.set_num_threads(2)


def set_batchnorm_statistics(module: nn.Module, generator: torch.Generator) -> None:
    """Non-default running mean / var and affine weight / bias on every BatchNorm2d."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(0.5 * torch.randn(c, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(c, generator=generator) * 1.5)
                m.weight.copy_(1.0 + 0.3 * torch.randn(c, generator=generator))
                m.bias.copy_(0.2 * torch.randn(c, generator=generator))


def randomize_transformer_affine(module: nn.Module, generator: torch.Generator) -> None:
    """Non-default LayerNorm weight / bias and attention biases (PyTorch initializes them to ones / zeros).

    Besides testing the affine terms, this keeps the fixture away from the TorchScript exporter's
    value-based initializer deduplication (equal-valued parameters merged into one); onnx_export.export_onnx
    undoes that merge anyway, and main() checks that on the default-initialized model."""
    for m in module.modules():
        with torch.no_grad():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1.0 + 0.3 * torch.randn(m.weight.shape, generator=generator))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=generator))
            elif isinstance(m, nn.MultiheadAttention):
                m.in_proj_bias.copy_(0.2 * torch.randn(m.in_proj_bias.shape, generator=generator))
                m.out_proj.bias.copy_(0.2 * torch.randn(m.out_proj.bias.shape, generator=generator))


# ------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------

def mlp_dropout() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 12), nn.Tanh(),
                         nn.Linear(12, 3))


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock (expansion 1)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNetSmall(nn.Module):
    """torchvision ResNet layout (stem, layer1, layer2, avgpool, fc) scaled down; the stem convolution is
    3x3 stride 1 instead of 7x7 stride 2 for 8x8 inputs."""

    def __init__(self, k: int = 3):
        super().__init__()
        self.conv1 = conv3x3(3, 4)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = BasicBlock(4, 4)
        self.layer2 = BasicBlock(4, 8, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, k)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class DenseLayer(nn.Module):
    """torchvision.models.densenet._DenseLayer without the bottleneck: BN-ReLU-Conv3x3, output concatenated
    with the input on channels."""

    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(cin, growth, 3, padding=1, bias=False)

    def forward(self, x):
        return torch.cat([x, self.conv(self.relu(self.norm(x)))], dim=1)


class DenseNetBlock(nn.Module):
    def __init__(self, cin: int = 3, growth: int = 4, k: int = 3):
        super().__init__()
        self.layer1 = DenseLayer(cin, growth)
        self.layer2 = DenseLayer(cin + growth, growth)
        c = cin + 2 * growth
        self.norm = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(c * 3 * 3, k)

    def forward(self, x):
        x = self.layer2(self.layer1(x))
        x = self.pool(self.relu(self.norm(x)))
        return self.fc(torch.flatten(x, 1))


class TransformerTiny(nn.Module):
    def __init__(self, vocab: int = 11, length: int = 5, d_model: int = 8, k: int = 2):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(0.1 * torch.randn(length, d_model))
        layer = nn.TransformerEncoderLayer(d_model, nhead=2, dim_feedforward=16, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=False)
        self.encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, k)

    def forward(self, tokens):
        h = self.embedding(tokens) + self.pos
        h = self.encoder(h)
        return self.head(h.mean(dim=1))


# ------------------------------------------------------------------------------------------------

def build(name: str):
    """(module, inputs) for a fixture, seeded per fixture so each is reproducible on its own."""
    seed = {"mlp_dropout": 1401, "resnet_small": 1402, "densenet_block": 1403, "transformer_tiny": 1404}[name]
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 10_000)
    if name == "mlp_dropout":
        return mlp_dropout(), torch.randn(8, 6, generator=g, dtype=torch.float64)
    if name == "resnet_small":
        m = ResNetSmall()
        set_batchnorm_statistics(m, g)
        return m, torch.randn(6, 3, 8, 8, generator=g, dtype=torch.float64)
    if name == "densenet_block":
        m = DenseNetBlock()
        set_batchnorm_statistics(m, g)
        return m, torch.randn(6, 3, 6, 6, generator=g, dtype=torch.float64)
    if name == "transformer_tiny":
        m = TransformerTiny()
        randomize_transformer_affine(m, g)
        return m, torch.randint(0, 11, (8, 5), generator=g, dtype=torch.int64)
    raise KeyError(name)


DESCRIPTIONS = {
    "mlp_dropout": "Linear(6,16)-ReLU-Dropout(0.1)-Linear(16,12)-Tanh-Linear(12,3); eval mode (dropout = identity)",
    "resnet_small": "conv3x3(3->4)+BN+ReLU+MaxPool(3,2,1), BasicBlock(4->4, identity), BasicBlock(4->8, stride 2, "
                    "1x1 conv + BN projection), AdaptiveAvgPool2d(1), flatten, Linear(8,3); random BN statistics",
    "densenet_block": "2 x [BN-ReLU-Conv3x3(growth 4), concatenated with its input] (3->7->11 channels), BN-ReLU, "
                      "AvgPool2d(2), flatten, Linear(99,3); random BN statistics",
    "transformer_tiny": "Embedding(11,8) + positional parameter [5,8] + TransformerEncoder(1 layer, d_model 8, nhead 2, "
                        "ff 16, gelu, dropout 0, batch_first, post-norm), mean over tokens, Linear(8,2)",
}


def main() -> int:
    os.chdir(HERE)
    summary = {}
    for name in ("mlp_dropout", "resnet_small", "densenet_block", "transformer_tiny"):
        module, x = build(name)
        record = ox.write_bundle(module, x, os.path.join(HERE, name),
                                 exporters=[("torchscript", 17), ("dynamo", 18)], dtype="float64",
                                 method="jacobian", top=10_000, check_jacobian=(name == "mlp_dropout"),
                                 extra={"description": DESCRIPTIONS[name], "seed": 1401 + list(DESCRIPTIONS).index(name),
                                        "mha_fastpath_enabled": torch.backends.mha.get_fastpath_enabled()})
        if name == "mlp_dropout":
            check = record["jacobian_check"]["max_abs_difference"]
            if not check <= 1e-12:
                raise SystemExit(f"mlp_dropout: torch.func kernel differs from the explicit J J^T by {check}")
            # The vjp/jvp route must agree too.
            kernel_vjp, _ = ox.reference_kernel(module, x, "vjp")
            kernel_jac, _ = ox.reference_kernel(module, x, "jacobian")
            if not np.abs(kernel_vjp - kernel_jac).max() <= 1e-12:
                raise SystemExit("mlp_dropout: the vjp and jacobian reference kernels differ")
        summary[name] = {"parameter_count": record["parameter_count"], "n": record["n"], "k": record["k"],
                         "trace": record["trace"], "entropy": record["entropy"],
                         "exports": [{k: e.get(k) for k in ("file", "bytes", "status", "checker", "error", "untied")}
                                     | {"reference_evaluator": e.get("reference_evaluator_check", {}).get("max_abs_difference"),
                                        "ort": e.get("onnxruntime_check", {}).get("max_abs_difference"),
                                        "ort_f32": e.get("onnxruntime_check_float32_export", {}).get("max_abs_difference")}
                                     for e in record["exports"]]}
    # The same modules at the ends of the supported opset range (13 and 20; the transformer's
    # scaled_dot_product_attention needs opset 14), for the importer's opset tests.
    os.makedirs(os.path.join(HERE, "opsets"), exist_ok=True)
    for name in ("mlp_dropout", "resnet_small", "densenet_block", "transformer_tiny"):
        for exporter, opset in (("torchscript", 13), ("torchscript", 20), ("dynamo", 20)):
            if name == "transformer_tiny" and opset < 14:
                continue
            module, x = build(name)
            ox.export_onnx(module, x, os.path.join(HERE, "opsets", f"{name}_{exporter}{opset}.onnx"),
                           exporter=exporter, opset=opset, dtype="float64")
    summary["untie_check"] = untie_check()
    print(json.dumps(summary, indent=1))
    return 0


def untie_check() -> list:
    """Export the default-initialized transformer (equal-valued LayerNorm / bias parameters) with the TorchScript
    exporter to a temporary file: the exporter merges those parameters; export_onnx must give each its own
    initializer again. Not committed; the script stops if it fails."""
    import tempfile
    torch.manual_seed(1404)
    module = TransformerTiny()
    x = torch.randint(0, 11, (4, 5), dtype=torch.int64)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.onnx")
        notes = ox.export_onnx(module, x, path, exporter="torchscript", opset=17, dtype="float64")
        info = ox.inspect_onnx(path, module)
    if not notes["untied"] or not (info["parameters_as_initializers"] and info["parameter_values_equal"]):
        raise SystemExit(f"untie check failed: {notes} {info.get('missing_parameters')}")
    return notes["untied"]


if __name__ == "__main__":
    sys.exit(main())
