# Sourced by the benchmark scripts: builds flowfence and the generator (release) and
# generates, once, at least $SIZE of v5 log text as S3-style .log.gz objects under
# benches/data/. Sets BIN (the release binaries) and DATA (the logs).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowfence/target}"
cargo build --release -q -p flowfence -p flowfence-synth
BIN="$CARGO_TARGET_DIR/release"
DATA="benches/data/v5-$SIZE"
if [ ! -f "$DATA/.complete" ]; then
  rm -rf "$DATA"
  "$BIN/flowfence-synth" --form s3-text-v5 --scale 20 --target-size "$SIZE" --out "$DATA"
  touch "$DATA/.complete"
fi
