#!/usr/bin/env bash
# Regenerates onnx.pb.swift from onnx.proto. Run by hand only when onnx.proto is updated; the
# build and CI never run it (the generated file is committed).
#
# onnx.proto is Sources/NTKONNX/Proto/onnx.proto as shipped in the `onnx` wheel on PyPI (see
# NOTICE beside it for the version and checksum). To update it:
#   pip download onnx==VERSION --no-deps -d /tmp/onnxwheel
#   unzip -o /tmp/onnxwheel/onnx-*.whl onnx/onnx.proto -d /tmp/onnxwheel
#   cp /tmp/onnxwheel/onnx/onnx.proto Sources/NTKONNX/Proto/onnx.proto    # then update NOTICE
#
# Tools: protoc from Debian's protobuf-compiler (apt-get install protobuf-compiler; 3.21.12 was
# used), and protoc-gen-swift built from swift-protobuf at the exact version Package.swift
# resolves (1.39.0), outside this repository:
#   git clone https://github.com/apple/swift-protobuf /tmp/swift-protobuf
#   (cd /tmp/swift-protobuf && git checkout 1.39.0 && swift build -c release --product protoc-gen-swift)
#   PROTOC_GEN_SWIFT=/tmp/swift-protobuf/.build/release/protoc-gen-swift Sources/NTKONNX/Proto/generate.sh
#
# Visibility=Internal keeps the generated types (Onnx_ModelProto, …) out of NTKONNX's public API.
set -euo pipefail
cd "$(dirname "$0")"
plugin="${PROTOC_GEN_SWIFT:-/tmp/swift-protobuf/.build/release/protoc-gen-swift}"
[ -x "$plugin" ] || { echo "generate.sh: protoc-gen-swift not found at $plugin (set PROTOC_GEN_SWIFT)" >&2; exit 1; }
version=$("$plugin" --version)
case "$version" in
    *1.39.0*) ;;
    *) echo "generate.sh: $plugin is '$version'; expected protoc-gen-swift 1.39.0 (the version Package.swift resolves)" >&2; exit 1 ;;
esac
protoc --plugin=protoc-gen-swift="$plugin" --swift_out=. --swift_opt=Visibility=Internal onnx.proto
echo "generate.sh: wrote $(pwd)/onnx.pb.swift with $(protoc --version) and $version"
