#!/usr/bin/env bash
# NTK block-matvec throughput of NTKSpectra (JVP∘VJP and structured operators) against JAX
# (jax.linearize) and PyTorch (torch.func) on the SAME workload files, interleaved in one run,
# so that ratios are measured under the same machine load.
#
# Usage: Benchmarks/compare_matvec.sh WORKLOAD_DIR [repeats] [blocks...]
#   WORKLOAD_DIR from peers/make_workload.py (model.json, weights_f32/f64.safetensors, inputs.npy)
# Needs: a release build of ntk-spectra (swift build -c release) and peers/.venv (peers/README.md).
# Appends JSON lines to Benchmarks/results/compare-matvec.jsonl and prints a markdown table.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
W="$1"; R="${2:-5}"; shift $(( $# >= 2 ? 2 : $# )); blocks=("${@:-1 16}")
[ ${#blocks[@]} -eq 1 ] && read -r -a blocks <<< "${blocks[0]}"
bin="$here/../.build/release/ntk-spectra"
py="$here/peers/.venv/bin/python"
out="$here/results/compare-matvec.jsonl"
mkdir -p "$here/results"
tag="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
for precision in float double; do
    weights="$W/weights_f32.safetensors"; [ "$precision" = double ] && weights="$W/weights_f64.safetensors"
    for block in "${blocks[@]}"; do
        for op in jvp_vjp structured; do
            "$bin" bench matvec --model "$W/model.json" --weights "$weights" --inputs "$W/inputs.npy" \
                --block "$block" --precision "$precision" --repeats "$R" --threads 2 --operator "$op" --format json \
                | python3 -c "import json,sys; r=json.load(sys.stdin); r['framework']='ntkspectra-'+r['operator']; r['run']='$tag'; r['load']=open('/proc/loadavg').read().split()[:3]; print(json.dumps(r))" >> "$out"
        done
        for fw in jax torch; do
            "$py" "$here/peers/peer_matvec.py" --framework "$fw" --spec "$W/model.json" --weights "$weights" \
                --inputs "$W/inputs.npy" --block "$block" --precision "$precision" --repeats "$R" \
                | python3 -c "import json,sys; r=json.loads(sys.stdin.read().strip().splitlines()[-1]); r['run']='$tag'; r['load']=open('/proc/loadavg').read().split()[:3]; print(json.dumps(r))" >> "$out"
        done
    done
done
python3 - "$out" "$tag" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l).get("run") == sys.argv[2]]
def key(r): return (r.get("precision", "").replace("float32", "float").replace("float64", "double"), int(r["block"]))
print("| precision | block | framework | matvecs/s | vs JAX | vs torch | load |")
print("| --- | ---: | --- | ---: | ---: | ---: | --- |")
for k in sorted({key(r) for r in rows}):
    group = [r for r in rows if key(r) == k]
    ref = {r["framework"]: r["matvecs_per_second"] for r in group}
    for r in group:
        v = r["matvecs_per_second"]
        jax = v / ref["jax"] if "jax" in ref else float("nan")
        torch = v / ref["torch"] if "torch" in ref else float("nan")
        print(f"| {k[0]} | {k[1]} | {r['framework']} | {v:.2f} | {jax:.2f}× | {torch:.2f}× | {' '.join(r['load'])} |")
PY
