"""Times flowfence and DuckDB on the same flow log files, alternating runs.

Called by vs-duckdb.sh. Three contenders: `flowfence parse` (every record decoded),
`flowfence aggregate` (the observed connections table: per-connection evidence, direction,
service port, peers) and DuckDB's read_csv with a 5-tuple GROUP BY. Prints each run, the
best time of each, both ratios against DuckDB, the records each counted (they must agree)
and each one's peak memory.
"""

import argparse
import glob
import json
import os
import sys
import tempfile

from engines import peak_mib, run_timed  # beside this file: the shared helpers


DUCKDB_SCRIPT = """
import duckdb, sys, json
con = duckdb.connect()
con.execute("SET threads = {threads}")
rows = con.execute('''
    SELECT count(*) AS groups, sum(n) AS records FROM (
        SELECT "interface-id", srcaddr, dstaddr, srcport, dstport, protocol, count(*) AS n
        FROM read_csv({files}, delim = ' ', header = true, nullstr = '-')
        GROUP BY ALL)
''').fetchone()
print(json.dumps({{"groups": rows[0], "records": rows[1]}}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--flowfence", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    files = sorted(glob.glob(os.path.join(args.data, "AWSLogs", "**", "*.log.gz"), recursive=True))
    if not files:
        sys.exit(f"no .log.gz files under {args.data}")
    gz_bytes = sum(os.path.getsize(f) for f in files)

    with tempfile.TemporaryDirectory() as tmp:
        stats_path = os.path.join(tmp, "stats.json")
        script = os.path.join(tmp, "duck.py")
        with open(script, "w") as f:
            f.write(DUCKDB_SCRIPT.format(threads=args.threads, files=json.dumps(files)))
        ff = [args.flowfence, "parse", "--threads", str(args.threads), "--output", "none",
              "--quiet", "--stats-json", stats_path, os.path.join(args.data, "AWSLogs")]
        dk = [sys.executable, script]
        agg = [args.flowfence, "aggregate", "--threads", str(args.threads), "--quiet",
               "--logs", os.path.join(args.data, "AWSLogs"),
               "--inventory", os.path.join(args.data, "inventory"),
               "-o", os.path.join(tmp, "connections.csv")]
        tools = (("flowfence", ff), ("aggregate", agg), ("duckdb", dk))

        best = {name: float("inf") for name, _ in tools}
        duck_out = None
        for i in range(args.runs):
            for name, argv in tools:
                t, out, _ = run_timed(argv)
                best[name] = min(best[name], t)
                if name == "duckdb":
                    duck_out = json.loads(out)
                print(f"run {i + 1}: {name:9s} {t:7.2f} s", flush=True)

        stats = json.load(open(stats_path))
        text_bytes = stats["text_bytes"]
        mem = {name: peak_mib(argv) for name, argv in tools}

    print()
    print(f"data: {len(files)} files, {gz_bytes / 2**20:.0f} MiB gzip, "
          f"{text_bytes / 2**20:.0f} MiB of log text, {stats['records']:,} records")
    print(f"threads: {args.threads}")
    for name, _ in tools:
        t = best[name]
        print(f"{name:9s} best {t:7.2f} s  {text_bytes / 2**20 / t:7.1f} MiB/s of text  "
              f"peak RSS {mem[name]:6.0f} MiB")
    print(f"records: flowfence {stats['records']:,}, duckdb {duck_out['records']:,} "
          f"({duck_out['groups']:,} 5-tuple groups)")
    if stats["records"] != duck_out["records"] or stats["rejected"] != 0:
        sys.exit("the tools disagree on the record count (or flowfence rejected lines)")
    print(f"ratio: flowfence parse is {best['duckdb'] / best['flowfence']:.2f}x faster than DuckDB")
    print(f"ratio: flowfence aggregate is {best['duckdb'] / best['aggregate']:.2f}x faster than DuckDB")


if __name__ == "__main__":
    main()
