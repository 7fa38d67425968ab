#!/usr/bin/env bash
# flowfence aggregate against the general engines, and its memory as the window grows.
#
#   benches/aggregate.sh [HOURS] [RUNS]
#
# Builds flowfence and the generator (release) and generates, once (cached under
# benches/data/):
#   - the growing generator's v5 logs (`flowfence-synth --growing`: internet peers keep
#     arriving, ephemeral ports from real OS ranges) for HOURS (default 6) and for 4x
#     HOURS, at --scale 20;
#   - SIZE (default 1G) of the standard v5 logs (benches/data.sh).
# Then prints peak RSS of `flowfence aggregate` on the 1x and 4x windows, with no memory
# limit and at each of MEMORY_LIMITS (default "1G 64M 16M"; the table must be the same
# bytes at all of them), and times
# `flowfence parse`, `flowfence aggregate`, DuckDB, chDB, polars and DataFusion side by
# side on the SIZE data (2 threads each, alternating, best of RUNS), checking that the
# engines agree on the (interface, 5-tuple) group count. The engines come from PyPI into
# benches/.venv-engines, made on first use.
#
# AGGREGATE_ARGS adds arguments to every `flowfence aggregate` run; ENGINES limits the
# engines (e.g. ENGINES="duckdb polars").
set -euo pipefail
cd "$(dirname "$0")/.."
HOURS="${1:-6}"
RUNS="${2:-3}"
THREADS="${THREADS:-2}"
SIZE="${SIZE:-1G}"
# shellcheck source=benches/data.sh
source benches/data.sh

growing() {
  local dir="benches/data/growing-$1h"
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir"
    "$BIN/flowfence-synth" --growing --form s3-text-v5 --scale 20 --hours "$1" --out "$dir" >&2
    touch "$dir/.complete"
  fi
  echo "$dir"
}
ONE="$(growing "$HOURS")"
FOUR="$(growing "$((HOURS * 4))")"

VENV=benches/.venv-engines
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q duckdb chdb polars datafusion pyarrow
fi

extra=()
for a in ${AGGREGATE_ARGS:-}; do extra+=(--aggregate-arg="$a"); done
# shellcheck disable=SC2206
limits=(--memory-limits none ${MEMORY_LIMITS:-1G 64M 16M})
engines=()
if [ -n "${ENGINES:-}" ]; then
  # shellcheck disable=SC2206
  engines=(--engines $ENGINES)
fi
exec "$VENV/bin/python" benches/engines.py --flowfence "$BIN/flowfence" --python "$VENV/bin/python" \
  --data "$DATA" --window-1x "$ONE" --window-4x "$FOUR" --threads "$THREADS" --runs "$RUNS" \
  "${limits[@]}" "${extra[@]}" "${engines[@]}"
