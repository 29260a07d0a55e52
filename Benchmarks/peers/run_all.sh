#!/usr/bin/env bash
# Smoke test: runs every peer script once on small workloads and checks what can be checked.
#   bash run_all.sh [WORKDIR]     (default: a fresh temporary directory)
# Needs .venv (requirements.txt) and .venv-nt (requirements-nt.txt) next to this script, or PY / PY_NT.
# Checks: JAX and torch block matvecs agree with a dense J J^T (float64: 1e-12 relative, float32: 1e-4);
# neural-tangents' three implementations reproduce the float64 JAX/numpy reference of the repository's
# fixtures (Tests/NTKSpectraTests/Fixtures/{mlp,cnn}_reference.json) to 1e-10 relative; peer_slq
# reaches a 5% target around the exact entropy. Ends with "N passed, N failed"; exit 1 on any failure.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PY:-$HERE/.venv/bin/python}"
PY_NT="${PY_NT:-$HERE/.venv-nt/bin/python}"
FIX="$HERE/../../Tests/NTKSpectraTests/Fixtures"
WORK="${1:-$(mktemp -d)}"
mkdir -p "$WORK"
passed=0; failed=0
check() {  # check NAME JSON PYTHON-EXPR(d)
  local name="$1" json="$2" expr="$3"
  if [ -n "$json" ] && printf '%s' "$json" | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); sys.exit(0 if ($expr) else 1)"; then
    echo "PASS $name"; passed=$((passed+1))
  else
    echo "FAIL $name: ${json:0:400}"; failed=$((failed+1))
  fi
}
last_json() { grep '^{' | tail -1; }

"$PY" "$HERE/make_workload.py" --width 24 --depth 2 --input-dim 5 --n 12 --k 3 --seed 7 --activation tanh --out "$WORK/small" >/dev/null
S="$WORK/small"
for fw in jax torch; do
  for prec in float double; do
    [ "$prec" = float ] && tol=1e-4 || tol=1e-12
    [ "$prec" = float ] && wt=weights_f32.safetensors || wt=weights_f64.safetensors
    out=$("$PY" "$HERE/peer_matvec.py" --framework $fw --spec "$S/model.json" --weights "$S/$wt" --inputs "$S/inputs.npy" \
          --block 3 --precision $prec --repeats 2 --check 2>/dev/null | last_json)
    check "matvec $fw $prec mlp" "$out" "d['status']=='ok' and d['check_max_relative_error'] < $tol and d['matvecs_per_second'] > 0"
  done
  out=$("$PY" "$HERE/peer_matvec.py" --framework $fw --spec "$FIX/cnn.json" --weights "$FIX/cnn.safetensors" \
        --inputs "$FIX/cnn_inputs.npy" --block 2 --precision double --repeats 1 --check 2>/dev/null | last_json)
  check "matvec $fw double cnn fixture" "$out" "d['status']=='ok' and d['check_max_relative_error'] < 1e-12"
done

for model in mlp cnn; do
  ref="$FIX/${model}_reference.json"
  out=$("$PY_NT" "$HERE/peer_exact.py" --spec "$FIX/$model.json" --weights "$FIX/$model.safetensors" \
        --inputs "$FIX/${model}_inputs.npy" --implementation all --timeout 600 2>/dev/null | last_json)
  check "neural-tangents exact $model (3 implementations vs reference)" "$out" \
    "[r['status'] for r in d['results']]==['ok']*3 and all(abs(r['entropy']-json.load(open('$ref'))['full']['entropy']) < 1e-10*json.load(open('$ref'))['full']['entropy'] and abs(r['trace']-json.load(open('$ref'))['full']['trace']) < 1e-10*json.load(open('$ref'))['full']['trace'] for r in d['results'])"
done
out=$("$PY_NT" "$HERE/peer_exact.py" --spec "$S/model.json" --weights "$S/weights_f64.safetensors" --inputs "$S/inputs.npy" \
      --implementation 2 --timeout 600 2>/dev/null | last_json)
check "neural-tangents exact small workload" "$out" "d['results'][0]['status']=='ok'"
E=$(printf '%s' "$out" | python3 -c "import json,sys; print(json.loads(sys.stdin.read())['results'][0]['entropy'])" 2>/dev/null)
out=$("$PY_NT" "$HERE/peer_exact.py" --spec "$S/model.json" --weights "$S/weights_f64.safetensors" --inputs "$S/inputs.npy" \
      --implementation 0 --memory-limit-gb 1e-9 2>/dev/null | last_json)
check "neural-tangents memory guard reports skipped_memory" "$out" "d['results'][0]['status']=='skipped_memory'"
out=$("$PY_NT" "$HERE/peer_exact.py" --spec "$S/model.json" --weights "$S/weights_f64.safetensors" --inputs "$S/inputs.npy" \
      --implementation 2 --timeout 0.5 2>/dev/null | last_json)
check "neural-tangents timeout reported" "$out" "d['results'][0]['status']=='timeout'"

out=$("$PY" "$HERE/peer_slq.py" --spec "$S/model.json" --weights "$S/weights_f64.safetensors" --inputs "$S/inputs.npy" \
      --target-rtol 0.05 --exact-entropy "${E:-nan}" --depth 20 --precision double --block 2 --max-probes 100 2>/dev/null | last_json)
check "peer SLQ reaches 5% of the exact entropy" "$out" "d['status']=='converged' and d['relative_error'] <= 0.05 and d['matvecs'] > 0"
out=$("$PY" "$HERE/peer_slq.py" --spec "$S/model.json" --weights "$S/weights_f64.safetensors" --inputs "$S/inputs.npy" \
      --depth 36 --precision double --block 8 --max-probes 8 2>/dev/null | last_json)
check "peer SLQ at full depth (N=36): 8 probes within 4 standard errors of the exact entropy" "$out" "d['status']=='budget_exhausted' and d['probes']==8 and abs(d['estimate']-${E:-nan}) <= 4*d['standard_error']"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
