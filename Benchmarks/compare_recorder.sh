#!/usr/bin/env bash
# Per-record cost of NTKSpectra's training-loop monitor (`ntk-spectra estimate`, auto route and the
# exact dense route) against a ZnNL-style recorder (neural-tangents empirical NTK + eigh,
# peers/peer_recorder.py) on the SAME network, weights and probe set, interleaved round by round
# (ours double, ours float, ours dense, peer double, peer float; repeated), so that both sides see
# the same machine load. tanh MLP 64-W-W-10, PyTorch init, seed 0, k = 10 outputs, N = n·k.
#
# Usage: Benchmarks/compare_recorder.sh [rounds] [W:n ...]   or   compare_recorder.sh --table  (markdown of all lines)     (default: 3 rounds; 256:100 256:500 1024:100 1024:500)
#   env WORK (workloads, default /tmp/recorder-work), PEER_TIMEOUT (s per peer process, default 900),
#   PEER_ARGS (extra peer_recorder.py arguments, e.g. "--batch-size 100"), PEER_PRECISIONS (default "double float"; empty: NTKSpectra only).
# Needs: the release binary (swift build -c release) and peers/.venv-nt (peers/README.md; make_workload.py
# only needs numpy + safetensors, which .venv-nt has). Appends JSON lines to results/recorder-vs-znnl.jsonl.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/../.build/release/ntk-spectra"
py="${PY_NT:-$here/peers/.venv-nt/bin/python}"
work="${WORK:-/tmp/recorder-work}"
out="$here/results/recorder-vs-znnl.jsonl"
table() {  # medians per case and side over all lines of $out (peer: over all warm samples)
    python3 - "$out" <<'PY'
import json, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = lambda xs: st.median(xs) if xs else float("nan")
def pick(W, n, side): return [r for r in rows if r["W"] == W and r["n"] == n and r["side"] == side and r.get("status", "ok") == "ok"]
def loads(rs): return ", ".join(sorted({r["load_after"][0] for r in rs}))
print("| N | W | P | our route | ours double s | ours float s | ours dense s | peer 1st call s (compile + run) | peer warm kernel s | peer eigh s | peer total s | peer/ours (auto, dense) | entropy rel. diff auto / dense | trace rel. diff | load (1-min, after each run) |")
print("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |")
for W, n in sorted({(r["W"], r["n"]) for r in rows}):
    od, of, dd = pick(W, n, "ntkspectra-double-auto"), pick(W, n, "ntkspectra-float-auto"), pick(W, n, "ntkspectra-double-dense")
    for prec in ("double", "float"):
        pk = pick(W, n, "znnl-" + prec)
        ours = med([r["seconds"] for r in (od if prec == "double" else of)])
        dense = med([r["seconds"] for r in dd])
        if pk:
            pairs = [(k, e) for r in pk for k, e in zip(r["samples_kernel"], r["samples_eigh"])]
            kern, eig, tot = med([k for k, _ in pairs]), med([e for _, e in pairs]), med([k + e for k, e in pairs])
            first = med([r["seconds_first_call"] for r in pk])
            ent, tr = pk[0]["entropy"], pk[0]["trace"]
            ours_r = od if prec == "double" else of
            de = f"{max(abs(r['entropy'] - ent) for r in ours_r) / ent:.1e} / {max(abs(r['entropy'] - ent) for r in dd) / ent:.1e}"
            dt = f"{max(abs(r['trace'] - tr) for r in ours_r + dd) / tr:.1e}"
            ratio = f"{tot / ours:.1f}× / {tot / dense:.1f}×"
            pk_s = f"{first:.1f} | {kern:.2f} ({len(pairs)}: {', '.join(f'{k:.1f}' for k, _ in pairs)}) | {eig:.2f} | {tot:.2f}"
        else:
            st_ = sorted({r.get("status") for r in rows if r["W"] == W and r["n"] == n and r["side"] == "znnl-" + prec}) or ["not run"]
            pk_s, ratio, de, dt = f"{', '.join(st_)} | | | ", "", "", ""
        route = "/".join(sorted({r["route"] for r in od + of}))
        print(f"| {n*10} | {W} | {od[0]['parameter_count'] if od else ''} | {route} | "
              f"{ours:.3f}{'' if prec == 'double' else ' (float)'} | {med([r['seconds'] for r in of]):.3f} | {dense:.3f} | {pk_s} ({prec}) | {ratio} | {de} | {dt} | {loads(od + of + dd + pk)} |")
PY
}
[ "${1:-}" = --table ] && { table; exit 0; }
rounds="${1:-3}"; shift $(( $# >= 1 ? 1 : 0 ))
cases=("${@:-256:100 256:500 1024:100 1024:500}")
[ ${#cases[@]} -eq 1 ] && read -r -a cases <<< "${cases[0]}"
tag="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
mkdir -p "$here/results" "$work"

# tag a JSON line (last line of stdin starting with '{') with run, case, side, round, load; or log a failure
tagged() {  # side W n round rc
    python3 -c '
import json, sys
side, width, n, rnd, rc = sys.argv[1:6]
lines = [l for l in sys.stdin.read().splitlines() if l.startswith("{")]
r = json.loads(lines[-1]) if lines else {}
if not lines:
    r["status"] = {"124": "timeout", "137": "killed (SIGKILL: out of memory?)"}.get(rc, "error exit " + rc)
r.update(run=sys.argv[6], side=side, W=int(width), n=int(n), round=int(rnd), exit_code=int(rc),
         load_after=open("/proc/loadavg").read().split()[:3])
print(json.dumps(r))' "$@" "$tag" >> "$out"
}

for c in "${cases[@]}"; do
    W="${c%%:*}"; n="${c##*:}"; dir="$work/w${W}_n${n}_k10"
    [ -f "$dir/model.json" ] || "$py" "$here/peers/make_workload.py" --width "$W" --depth 2 --input-dim 64 \
        --n "$n" --k 10 --seed 0 --activation tanh --out "$dir" >/dev/null
    for r in $(seq 1 "$rounds"); do
        for v in "double auto" "float auto" "double dense"; do
            set -- $v
            wt="$dir/weights_f64.safetensors"; [ "$1" = float ] && wt="$dir/weights_f32.safetensors"
            echo "[$c round $r] ntk-spectra estimate --precision $1 --route $2 (load $(cut -d' ' -f1 /proc/loadavg))" >&2
            res="$("$bin" estimate --model "$dir/model.json" --weights "$wt" --inputs "$dir/inputs.npy" \
                --precision "$1" --route "$2" --format json --quiet)"
            rc=$?; printf '%s\n' "$res" | tagged "ntkspectra-$1-$2" "$W" "$n" "$r" "$rc"
        done
        for p in ${PEER_PRECISIONS-double float}; do
            wt="$dir/weights_f64.safetensors"; [ "$p" = float ] && wt="$dir/weights_f32.safetensors"
            echo "[$c round $r] peer_recorder.py --precision $p ${PEER_ARGS:-} (load $(cut -d' ' -f1 /proc/loadavg))" >&2
            # exit 124: timed out; 137: SIGKILL (the out-of-memory killer)
            res="$(timeout "${PEER_TIMEOUT:-900}" "$py" "$here/peers/peer_recorder.py" --spec "$dir/model.json" \
                --weights "$wt" --inputs "$dir/inputs.npy" --precision "$p" --repeats 1 ${PEER_ARGS:-})"
            rc=$?; printf '%s\n' "$res" | tagged "znnl-$p" "$W" "$n" "$r" "$rc"
        done
    done
done
echo "appended to $out (run $tag)" >&2
table
