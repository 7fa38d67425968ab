#!/usr/bin/env bash
# Writes every user-visible output of flowfence (plan JSON, each export format, the
# connections table as CSV and Parquet, REJECT and gap summaries, partials and their
# merge, parsed records in each output format, and the summaries printed on stderr) for
# the bundled sample and for generated environments, into OUT. Run it with the binaries
# of two builds and compare the directories byte for byte:
#
#   scripts/golden-outputs.sh /tmp/before   # with FLOWFENCE=... SYNTH=... of build A
#   scripts/golden-outputs.sh /tmp/after    # build B
#   diff -r /tmp/before /tmp/after && echo identical
#
# Refactors that promise "byte-identical outputs" are checked this way.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: golden-outputs.sh OUT}"
target="${CARGO_TARGET_DIR:-target}"
ff="${FLOWFENCE:-$target/release/flowfence}"
synth="${SYNTH:-$target/release/flowfence-synth}"
rm -rf "$out"; mkdir -p "$out"

# Stderr summaries name paths; strip the directory so two OUTs compare.
# Stdout and stderr are kept apart (stdout is data, stderr the summary).
run() {
  local name=$1; shift
  local code=0
  "$@" > "$out/$name.stdout" 2> "$out/$name.stderr" || code=$?
  sed -i -e "s#$out#OUT#g" -e 's/in [0-9.]* s, [0-9.]* [KMG]\?i\?B\/s/in T/' "$out/$name.stderr" "$out/$name.stdout"
  echo "exit $code" >> "$out/$name.stderr"
}

env_outputs() { # name logs inventory
  local n=$1 logs=$2 inv=$3 d="$out/$1"
  mkdir -p "$d"
  run "$n/propose" "$ff" propose --logs "$logs" --inventory "$inv" -o "$d/plan.json"
  for f in terraform cloudformation cli csv parquet markdown html; do
    run "$n/export-$f" "$ff" export --plan "$d/plan.json" --format "$f" -o "$d/plan.$f"
  done
  run "$n/verify" "$ff" verify --plan "$d/plan.json" --logs "$logs" --inventory "$inv"
  run "$n/aggregate" "$ff" aggregate --logs "$logs" --inventory "$inv" -o "$d/conn.csv" \
    --rejected "$d/rejected.csv" --gaps "$d/gaps.csv" --partial "$d/partial.parquet"
  run "$n/aggregate-parquet" "$ff" aggregate -q --logs "$logs" --inventory "$inv" -o "$d/conn.parquet" \
    --rejected "$d/rejected.parquet" --gaps "$d/gaps.parquet"
  run "$n/propose-from-table" "$ff" propose --connections "$d/conn.csv" --inventory "$inv" -o "$d/plan-from-table.json"
}

# The bundled sample: every log form, the whole job, and each command.
s=sample-logs
run sample-run "$ff" run "$s" -o "$out/run-plan.json"
env_outputs sample "$s/logs" "$s/inventory"
for form in s3-text-v2 s3-text-v5 s3-parquet cloudwatch; do
  for o in ndjson csv parquet none; do
    run "parse-$form-$o" "$ff" parse "$s/logs/$form" --output "$o" -o "$out/parse-$form.$o" --stats-json "$out/parse-$form-$o.stats.json"
  done
  run "aggregate-$form" "$ff" aggregate --logs "$s/logs/$form" --partial "$out/partial-$form.parquet"
done
run merge "$ff" merge "$out"/partial-s3-*.parquet "$out/partial-cloudwatch.parquet" -o "$out/merged.parquet" \
  --inventory "$s/inventory" --connections "$out/merged-conn.csv"

# Generated environments: the variants, and a second seed at a larger scale.
for v in base rare-flows partner-api; do
  "$synth" --sample --variant "$v" --out "$out/gen-$v" > /dev/null
  env_outputs "gen-$v-out" "$out/gen-$v/logs" "$out/gen-$v/inventory"
done
"$synth" --seed 11 --instances 12 --form s3-text-v5 --hours 6 --out "$out/gen-big" > /dev/null
env_outputs gen-big-out "$out/gen-big" "$out/gen-big/inventory"
# The one figure that differs from run to run: elapsed time in the JSON summaries.
sed -i 's/"elapsed_seconds": [0-9.e-]*/"elapsed_seconds": T/' "$out"/*.stats.json
echo "wrote $(find "$out" -type f | wc -l) files to $out"
