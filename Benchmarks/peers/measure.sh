#!/usr/bin/env bash
# The measurements reported in RESULTS.md (2-core machine; each run short). Usage:
#   bash measure.sh [WORKDIR]     (workloads are generated into WORKDIR, default /tmp/peers-work)
# Needs .venv (requirements.txt) and .venv-nt (requirements-nt.txt) next to this script, or set
# PY / PY_NT to other interpreters. Appends one JSON line per run to results/measurements.jsonl.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PY:-$HERE/.venv/bin/python}"
PY_NT="${PY_NT:-$HERE/.venv-nt/bin/python}"
WORK="${1:-/tmp/peers-work}"
OUT="$HERE/results/measurements.jsonl"
mkdir -p "$HERE/results" "$WORK"
A="$WORK/w1024_n1024_k1"; B="$WORK/w1024_n256_k10"
[ -f "$A/model.json" ] || "$PY" "$HERE/make_workload.py" --width 1024 --depth 2 --input-dim 64 --n 1024 --k 1 --seed 0 --activation tanh --out "$A"
[ -f "$B/model.json" ] || "$PY" "$HERE/make_workload.py" --width 1024 --depth 2 --input-dim 64 --n 256 --k 10 --seed 0 --activation tanh --out "$B"
for fw in jax torch; do
  for prec in float double; do
    [ "$prec" = float ] && wt=weights_f32.safetensors || wt=weights_f64.safetensors
    for block in 1 8; do
      echo "matvec $fw $prec block $block" >&2
      "$PY" "$HERE/peer_matvec.py" --framework $fw --spec "$A/model.json" --weights "$A/$wt" \
        --inputs "$A/inputs.npy" --block $block --precision $prec --repeats 5 2>/dev/null \
        | sed "s/^{/{\"load_average\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", /" >> "$OUT"
    done
  done
done
echo "neural-tangents exact, all implementations, n*k = 2560" >&2
"$PY_NT" "$HERE/peer_exact.py" --spec "$B/model.json" --weights "$B/weights_f64.safetensors" \
  --inputs "$B/inputs.npy" --implementation all --timeout 900 --save-eigenvalues "$WORK/nt_eigenvalues.npy" 2>/dev/null \
  | sed "s/^{/{\"load_average\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", /" >> "$OUT"
