#!/usr/bin/env bash
# flowfence vs DuckDB on the same gzip'd v5 flow logs, timed in one run.
#
#   benches/vs-duckdb.sh [SIZE] [RUNS]      SIZE of log text to generate (default 1G)
#
# Generates (once, cached under benches/data/) at least SIZE of v5 log text as S3-style
# .log.gz objects, then alternates `flowfence parse --output none`, `flowfence aggregate`
# (the observed connections table) and DuckDB's read_csv with a 5-tuple GROUP BY, all on
# 2 threads, and prints the best times, peak memory and the ratios against DuckDB.
# Ratios from one run are what count: the machine is shared and absolute times drift.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-1G}"
RUNS="${2:-3}"
THREADS="${THREADS:-2}"
# shellcheck source=benches/data.sh
source benches/data.sh

VENV=benches/.venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q duckdb
fi

exec "$VENV/bin/python" benches/vs_duckdb.py --data "$DATA" --flowfence "$BIN/flowfence" \
  --threads "$THREADS" --runs "$RUNS"
