#!/usr/bin/env bash
# Equality of the data-parallel estimate with the single-process one, and failure handling,
# under `mpirun -np 2` (run by .ci/run; needs openmpi-bin and python3).
#
#   Distributed/test-mpi.sh [NTK_SPECTRA [NTK_SPECTRA_MPI]]
#
# Defaults: the debug builds of the main package and of Distributed/. For each case, the same
# model, inputs and seed go to `ntk-spectra estimate --route matrix-free --operator jvp_vjp`
# (one process) and to `mpirun -np 2 ntk-spectra-mpi estimate`; trace, entropy and the top
# eigenvalues must agree to 1e-10 relative in double precision (1e-5 in float; the float entropy
# within twice the single process's own change under reordered sums, when that is larger): the
# runs differ only in the order in which the parameter block G is summed. `ntk-spectra-mpi exact`
# (ScaLAPACK) must equal `ntk-spectra exact` (LAPACK) to 1e-10. Then a bad --inputs path, on
# every rank and on one rank only (MPMD), must end every rank non-zero within 10 s with one
# line on stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
single="${1:-$here/../.build/debug/ntk-spectra}"
mpi="${2:-$here/.build/debug/ntk-spectra-mpi}"
for b in "$single" "$mpi"; do
    [ -x "$b" ] || { echo "test-mpi: $b is not built" >&2; exit 2; }
done
single="$(realpath "$single")"
mpi="$(realpath "$mpi")"

# As root (CI containers) Open MPI wants --allow-run-as-root; 2 ranks on ≤ 2 cores need
# --oversubscribe; -q drops mpirun's multi-line notices (a failed job is then one line);
# shared memory without the CMA single-copy mechanism (ptrace is often denied in containers).
mpirun_args=(--oversubscribe -q --bind-to none --mca btl self,vader --mca btl_vader_single_copy_mechanism none)
[ "$(id -u)" -eq 0 ] && mpirun_args+=(--allow-run-as-root)
run_mpi() { mpirun "${mpirun_args[@]}" "$@"; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# Inputs as .npy (float64), written with the standard library only.
python3 - <<'PY'
import random, struct
def save(path, shape, seed):
    rng = random.Random(seed)
    count = 1
    for d in shape: count *= d
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%s), }" % "".join("%d, " % d for d in shape)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%dd" % count, *[rng.gauss(0, 1) for _ in range(count)]))
save("mlp.npy", (37, 6), 1)        # 37 examples: shards of 19 and 18
save("cnn.npy", (21, 2, 6, 6), 2)
PY
cat > mlp.json <<'JSON'
{"input_shape": [6], "layers": [
 {"type": "linear", "in_features": 6, "out_features": 16}, {"type": "tanh"},
 {"type": "linear", "in_features": 16, "out_features": 16}, {"type": "gelu"},
 {"type": "linear", "in_features": 16, "out_features": 3}]}
JSON
cat > cnn.json <<'JSON'
{"input_shape": [2, 6, 6], "layers": [
 {"type": "conv2d", "in_channels": 2, "out_channels": 3, "kernel_size": 3, "padding": 1}, {"type": "tanh"},
 {"type": "avgpool2d", "kernel_size": 2},
 {"type": "conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 2}, {"type": "sigmoid"},
 {"type": "flatten"}, {"type": "linear", "in_features": 16, "out_features": 3}]}
JSON

failures=0
checks=0
# compare NAME MODEL KERNEL PRECISION TOLERANCE RANKS [extra options…]
compare() {
    local name=$1 model=$2 kernel=$3 precision=$4 tolerance=$5 ranks=$6
    shift 6
    checks=$((checks + 1))
    local common=(--model "$model.json" --inputs "$model.npy" --kernel "$kernel" --precision "$precision"
                  --seed 7 --format json --quiet "$@")
    "$single" estimate "${common[@]}" --route matrix-free --operator jvp_vjp > "$name.single.json"
    # The single process again with batches of 5 examples: the same sums in another order.
    "$single" estimate "${common[@]}" --route matrix-free --operator jvp_vjp --batch-size 5 > "$name.reordered.json"
    run_mpi -np "$ranks" "$mpi" estimate "${common[@]}" > "$name.mpi.json"
    if python3 - "$name" "$tolerance" "$ranks" "$precision" <<'PY'
import json, sys
name, tolerance, ranks, precision = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
a, r, b = (json.load(open(name + x)) for x in (".single.json", ".reordered.json", ".mpi.json"))
def rel(x, y): return abs(x - y) / max(abs(x), 1e-300)
worst = {"trace": rel(a["trace"], b["trace"]), "entropy": rel(a["entropy"], b["entropy"])}
assert len(a["top_eigenvalues"]) == len(b["top_eigenvalues"]) > 0, "top eigenvalue counts differ"
worst["top_eigenvalues"] = max(rel(x, y) for x, y in zip(a["top_eigenvalues"], b["top_eigenvalues"]))
allowed = dict.fromkeys(worst, tolerance)
# In float, the entropy of a spectrum with many small eigenvalues moves by ~1e-5 with the order of
# summation alone (-Σ p log p weighs each eigenvalue's float round-off by |log p|): the single
# process differs from itself by that much between batch sizes. The distributed run may differ
# by twice the single process's own spread.
spread = rel(a["entropy"], r["entropy"])
if precision == "float": allowed["entropy"] = max(tolerance, 2 * spread)
ok = all(worst[k] <= allowed[k] for k in worst) and b["ranks"] == ranks and b["allreduce_count"] > 0
ok = ok and a["n"] == b["n"] and a["dimension"] == b["dimension"]
print("test-mpi: %-18s %s  %s  (single vs itself reordered: entropy %.1e; ranks %d, %d allreduces, %.0f kB)" % (
    name, "ok  " if ok else "FAIL", "  ".join("%s %.1e" % kv for kv in worst.items()), spread, b["ranks"],
    b["allreduce_count"], b["allreduce_bytes"] / 1e3))
sys.exit(0 if ok else 1)
PY
    then :; else failures=$((failures + 1)); fi
}

compare mlp-full-double   mlp full   double 1e-10 2
compare mlp-traced-double mlp traced double 1e-10 2
compare mlp-full-float    mlp full   float  1e-5  2
compare cnn-full-double   cnn full   double 1e-10 2
compare cnn-traced-float  cnn traced float  1e-5  2
compare mlp-n-lt-ranks    mlp full   double 1e-10 3 --max-inputs 2   # one rank owns nothing

# The distributed exact path (kernel block-cyclic from the shards' Jacobian rows, ScaLAPACK
# pdsyevd) against `ntk-spectra exact` (LAPACK): trace, entropy and the 10 largest eigenvalues
# to 1e-10 relative, and all eigenvalues to 1e-10 of the largest.
# compare_exact NAME MODEL KERNEL RANKS [extra options…]
compare_exact() {
    local name=$1 model=$2 kernel=$3 ranks=$4
    shift 4
    checks=$((checks + 1))
    local common=(--model "$model.json" --inputs "$model.npy" --kernel "$kernel" --format json "$@")
    "$single" exact "${common[@]}" --eigenvalues-out "$name.single.npy" > "$name.single.json"
    run_mpi -np "$ranks" "$mpi" exact "${common[@]}" "${scalapack[@]}" --eigenvalues-out "$name.mpi.npy" > "$name.mpi.json"
    if python3 - "$name" "$ranks" <<'PY'
import json, struct, sys
name, ranks = sys.argv[1], int(sys.argv[2])
def npy(path):
    data = open(path, "rb").read()
    start = 10 + struct.unpack("<H", data[8:10])[0]
    return list(struct.unpack("<%dd" % ((len(data) - start) // 8), data[start:]))
a, b = (json.load(open(name + x)) for x in (".single.json", ".mpi.json"))
ea, eb = npy(name + ".single.npy"), npy(name + ".mpi.npy")
def rel(x, y): return abs(x - y) / max(abs(x), 1e-300)
assert len(ea) == len(eb) == a["dimension"] == b["dimension"], "eigenvalue counts differ"
worst = {"trace": rel(a["trace"], b["trace"]), "entropy": rel(a["entropy"], b["entropy"]),
         "top10": max(rel(x, y) for x, y in zip(ea[-10:], eb[-10:])),
         "all/max": max(abs(x - y) for x, y in zip(ea, eb)) / max(ea)}
distributed = b["route"] == "distributed_jacobian_rows" and b["eigensolver"] == "pdsyevd"
ok = all(v <= 1e-10 for v in worst.values()) and b["ranks"] == ranks and (distributed or ranks == 1)
print("test-mpi: %-18s %s  %s  (LAPACK %s vs %s on a %s grid, %.0f kB broadcast)" % (
    name, "ok  " if ok else "FAIL", "  ".join("%s %.1e" % kv for kv in worst.items()), a["eigensolver"],
    b["eigensolver"], "×".join(map(str, b["process_grid"])), b["broadcast_bytes"] / 1e3))
sys.exit(0 if ok else 1)
PY
    then :; else failures=$((failures + 1)); fi
}

scalapack=()
compare_exact exact-mlp-full      mlp full   2
compare_exact exact-mlp-traced    mlp traced 2
scalapack=(--scalapack-block-size 8)            # 14 blocks of 8 over the 1×2 grid
compare_exact exact-mlp-full-nb8  mlp full   2
compare_exact exact-cnn-full-2x2  cnn full   4   # a 2×2 grid, blocks of 8
compare_exact exact-cnn-traced    cnn traced 3   # 1×3, 21 rows in blocks of 8
scalapack=()
compare_exact exact-mlp-n-lt-r    mlp full   3 --max-inputs 2   # one rank owns nothing

# A bad input file ends every rank: each rank's exit status is recorded by a wrapper shell.
# expect_failure NAME -- mpirun arguments…
expect_failure() {
    local name=$1
    shift
    checks=$((checks + 1))
    rm -f rc.*
    local start=$SECONDS status=0
    timeout 30 mpirun "${mpirun_args[@]}" "$@" > "$name.out" 2> "$name.err" || status=$?
    local elapsed=$((SECONDS - start)) lines ranks_ok=1
    lines=$(wc -l < "$name.err")
    for f in rc.*; do [ -f "$f" ] && [ "$(cat "$f")" != 0 ] || ranks_ok=0; done
    [ "$(ls rc.* 2>/dev/null | wc -l)" -eq 2 ] || ranks_ok=0
    if [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$elapsed" -le 10 ] && [ "$lines" -eq 1 ] \
        && [ "$ranks_ok" -eq 1 ] && [ ! -s "$name.out" ]; then
        echo "test-mpi: $name ok    (${elapsed} s, every rank non-zero) $(cat "$name.err")"
    else
        echo "test-mpi: $name FAIL  (status $status, ${elapsed} s, $lines stderr lines, ranks ok: $ranks_ok)"
        sed 's/^/    /' "$name.err"
        failures=$((failures + 1))
    fi
}
wrap=(sh -c '"$0" "$@"; code=$?; echo $code > rc.$OMPI_COMM_WORLD_RANK; exit $code' "$mpi")
expect_failure missing-inputs-all -np 2 "${wrap[@]}" estimate --model mlp.json --inputs missing.npy
expect_failure missing-inputs-one -np 1 "${wrap[@]}" estimate --model mlp.json --inputs mlp.npy \
    : -np 1 "${wrap[@]}" estimate --model mlp.json --inputs missing.npy

echo "test-mpi: $((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
