#!/usr/bin/env bash
# Throughput of `flowfence aggregate` reading the same logs from a loopback S3 server
# (s3s-fs, examples/s3_server.rs) and from local disk, in one run, alternating.
#
#   benches/s3-vs-disk.sh [SIZE] [ROUNDS]     (defaults: 1G 3; data shared with vs-duckdb.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-1G}"
ROUNDS="${2:-3}"
# shellcheck source=benches/data.sh
source benches/data.sh
cargo build --release -q -p flowfence --example s3_server

ROOT="$(mktemp -d)"
PORT=$((20000 + RANDOM % 20000))
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT/flow"
cp -al "$DATA/AWSLogs" "$ROOT/flow/AWSLogs" 2>/dev/null || cp -r "$DATA/AWSLogs" "$ROOT/flow/AWSLogs"
"$BIN/examples/s3_server" "$ROOT" "$PORT" 2>/dev/null &
SERVER=$!
sleep 1

export AWS_ACCESS_KEY_ID=AKTEST AWS_SECRET_ACCESS_KEY=SKTEST AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
stored=$(du -sb "$DATA/AWSLogs" | cut -f1)
echo "data: $DATA ($((stored / 1048576)) MiB stored), $(nproc) cores, $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
  for source in disk s3; do
    if [ "$source" = disk ]; then logs="$DATA/AWSLogs"; else logs="s3://flow/"; fi
    /usr/bin/time -f "%e %M" -o /tmp/s3-vs-disk.time \
      "$BIN/flowfence" aggregate -q --logs "$logs" --endpoint-url "http://127.0.0.1:$PORT" \
      --partial /tmp/s3-vs-disk.parquet
    read -r secs kib < /tmp/s3-vs-disk.time
    echo "round $round $source: ${secs} s, peak RSS $((kib / 1024)) MiB, $(python3 -c "print(round($stored/1048576/$secs,1))") MiB/s stored"
  done
done
