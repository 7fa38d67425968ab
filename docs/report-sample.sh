#!/usr/bin/env bash
# Regenerates docs/report-sample.png: the sample's HTML report (`flowfence run
# sample-logs/`, then `export --format html`) as headless Chromium (Debian's package
# `chromium`) draws its first 1,500 pixels.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
cargo run --locked -q -p flowfence -- run sample-logs/ -o "$out/plan.json" > /dev/null
cargo run --locked -q -p flowfence -- export --plan "$out/plan.json" --format html -o "$out/report.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1500 \
  --screenshot="$PWD/docs/report-sample.png" "file://$out/report.html" 2> /dev/null
rm -rf "$out"
