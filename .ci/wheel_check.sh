#!/usr/bin/env bash
# The release as a user gets it: the wheel of `make dist` installed into a fresh virtualenv outside the repository
# (the CPU build of torch first, as the Makefile does), then run from a temporary directory, so that missing package
# data, a broken entry point or an import that only works from the source tree fails here.
# Usage: bash .ci/wheel_check.sh [DIST_DIR]   (PY: the Python that makes the virtualenv, default python3)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dist="$(cd "${1:-$repo/dist}" && pwd)"
wheels=("$dist"/genphase-*.whl)
[ "${#wheels[@]}" = 1 ] && [ -f "${wheels[0]}" ] || { echo "wheel check: expected one genphase wheel in $dist" >&2; exit 1; }
want="$("${PY:-python3}" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$repo/pyproject.toml")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
unset PYTHONPATH
start=$SECONDS
"${PY:-python3}" -m venv "$tmp/venv"
py="$tmp/venv/bin/python"
"$py" -m pip install -q --upgrade pip
"$py" -m pip install -q "torch==2.13.0"
"$py" -m pip install -q -c "$repo/constraints.txt" "${wheels[0]}"
echo "wheel check: installed $(basename "${wheels[0]}") in $((SECONDS - start)) s"
cd "$tmp"   # not the repository: nothing can come from src/

got="$("$tmp/venv/bin/genphase" --version)"
[ "$got" = "genphase $want" ] || { echo "wheel check: genphase --version says '$got', pyproject.toml $want" >&2; exit 1; }
"$tmp/venv/bin/genphase" presets | grep -q breast-cancer-mlp
"$tmp/venv/bin/genphase" run breast-cancer-mlp --quick --out "$tmp/run" > "$tmp/run.log" 2>&1 \
  || { tail -20 "$tmp/run.log" >&2; exit 1; }
# the report's stylesheet is package data: the page inlines it
grep -q 'id="verdict"' "$tmp/run/report.html" && grep -q '\.lead {' "$tmp/run/report.html" \
  || { echo "wheel check: report.html lacks the verdict or the packaged style.css" >&2; exit 1; }
"$py" - "$want" "$tmp/venv" <<'PY'
import sys, numpy as np, genphase as gp
assert gp.__version__ == sys.argv[1] and gp.__file__.startswith(sys.argv[2]), (gp.__version__, gp.__file__)
res = gp.extract_and_or(np.random.default_rng(0).normal(size=(4, 2**6)))
assert res.and_effects.shape == (4, 64) and np.allclose(res.reconstruct(), np.random.default_rng(0).normal(size=(4, 2**6)) + res.noise)
print("wheel check: API example ok, max certified gap", float(res.gap.max()))
PY
echo "wheel check: genphase $want from the wheel: --version, presets, run breast-cancer-mlp --quick and the API pass ($((SECONDS - start)) s)"
