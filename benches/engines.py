"""flowfence against the general engines, on the same flow log files, in one run.

Called by aggregate.sh. Two parts:

1. Memory as the window grows: peak RSS of `flowfence aggregate` over the growing
   generator's logs for one window and for four (`--window-1x`, `--window-4x`), with
   no memory limit and at each of `--memory-limits`, with the connections each found;
   the target is the 4x run within 1.2x of the 1x run under a limit, and the table must
   be the same bytes at every limit.
2. Speed, alternating runs on `--data` (2 threads each): `flowfence parse --output none`,
   `flowfence aggregate` (the observed connections table), and a GROUP BY of every
   record's (interface, 5-tuple) in DuckDB, chDB (ClickHouse in-process), polars (lazy
   scan_csv) and DataFusion. Prints each run, the best time and peak RSS of each, the
   5-tuple group counts (the engines must agree) and the ratios: aggregate against the
   fastest engine and against flowfence's own parse.
"""

import argparse
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

KEY = ["interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol"]

# Each engine reads the same gzip'd objects as text (every column a string: the 5-tuple
# is grouped as written, so no engine pays for type inference the others skip) and
# prints {"groups": N}.
ENGINES = {
    "duckdb": """
import duckdb, json, sys
files = json.load(open(sys.argv[1]))
con = duckdb.connect()
con.execute("SET threads = {threads}")
n = con.execute('''SELECT count(*) FROM (SELECT {key} FROM read_csv(?, delim = ' ', header = true,
    all_varchar = true) GROUP BY ALL)''', [files]).fetchone()[0]
print(json.dumps({{"groups": n}}))
""",
    "chdb": """
import chdb, json, os, sys
files = json.load(open(sys.argv[1]))
header = {header}
# ClickHouse refuses a space as the CSV delimiter, and its CustomSeparated formats read
# these lines as empty: each line is split on spaces instead, the header lines skipped.
# It globs within a folder: every object under the files' common folder.
pattern = os.path.commonpath(files) + "/**/*.log.gz"
cols = ", ".join(f"f[{{header.index(c) + 1}}]" for c in {key_list})
q = (f"SELECT count() FROM (SELECT {{cols}} FROM (SELECT splitByChar(' ', line) AS f "
     f"FROM file('{{pattern}}', 'LineAsString') WHERE NOT startsWith(line, 'version ')) "
     f"GROUP BY {{cols}}) SETTINGS max_threads = {threads}")
print(json.dumps({{"groups": int(str(chdb.query(q, "CSV")).strip())}}))
""",
    "polars": """
import os, json, sys
os.environ["POLARS_MAX_THREADS"] = "{threads}"
import polars as pl
files = json.load(open(sys.argv[1]))
key = {key_list}
frame = pl.scan_csv(files, separator=" ", infer_schema=False)
n = frame.select(key).unique().select(pl.len()).collect().item()
print(json.dumps({{"groups": n}}))
""",
    "datafusion": """
import json, sys
import pyarrow as pa
from datafusion import SessionConfig, SessionContext
files = json.load(open(sys.argv[1]))
header = {header}
ctx = SessionContext(SessionConfig().with_target_partitions({threads}))
schema = pa.schema([(c, pa.string()) for c in header])
ctx.register_csv("logs", files, schema=schema, has_header=True, delimiter=" ",
                 file_extension=".log.gz", file_compression_type="gzip")
n = ctx.sql('SELECT count(*) FROM (SELECT {key} FROM logs GROUP BY {key})').to_pylist()[0]
print(json.dumps({{"groups": list(n.values())[0]}}))
""",
}


def run_timed(argv, env=None):
    """Runs argv; returns (seconds, stdout, stderr)."""
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv[:3])} failed: {proc.stderr.decode(errors='replace')[-2000:]}")
    return elapsed, proc.stdout.decode(), proc.stderr.decode()


def peak_mib(argv):
    """Peak RSS of one run (MiB). Through GNU time where there is one: a child forked
    from this process starts with this process's pages in its count (ru_maxrss keeps
    the high-water mark across exec), so the tables read here would inflate it."""
    if os.path.exists("/usr/bin/time"):
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        if proc.returncode != 0:
            sys.exit(f"{argv[0]} failed: {proc.stderr.decode(errors='replace')[-2000:]}")
        return int(proc.stderr.decode().strip().splitlines()[-1]) / 1024
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvp(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        sys.exit(f"{argv[0]} failed with status {status}")
    return usage.ru_maxrss / 1024


def objects(data):
    files = sorted(glob.glob(os.path.join(data, "AWSLogs", "**", "*.log.gz"), recursive=True))
    if not files:
        sys.exit(f"no .log.gz files under {data}")
    return files


def aggregate_argv(flowfence, data, threads, out, extra):
    return [flowfence, "aggregate", "--threads", str(threads),
            "--logs", os.path.join(data, "AWSLogs"), "--inventory", os.path.join(data, "inventory"),
            "-o", out, *extra]


def connections_of(stderr):
    """The connections count `aggregate`'s summary names."""
    m = re.search(r"connections ([\d,]+) observed", stderr)
    return int(m.group(1).replace(",", "")) if m else None


def memory(args, tmp):
    print("== memory as the window grows (flowfence aggregate, growing generator)")
    peaks = {}
    for label, data in (("1x", args.window_1x), ("4x", args.window_4x)):
        files = objects(data)
        text = sum(os.path.getsize(f) for f in files)
        tables = {}
        for limit in args.memory_limits:
            out = os.path.join(tmp, f"connections-{label}-{limit}.csv")
            extra = args.aggregate_arg + ([] if limit == "none" else ["--memory-limit", limit])
            argv = aggregate_argv(args.flowfence, data, args.threads, out, extra)
            t, _, err = run_timed(argv)
            spilled = re.search(r"(\d+) sorted runs of connections spilled", err)
            # Peak RSS varies with how the two workers' flushes interleave: the median
            # of --runs runs, with the largest.
            runs = sorted(peak_mib(argv + ["--quiet"]) for _ in range(args.runs))
            peak, worst = runs[len(runs) // 2], runs[-1]
            peaks[(label, limit)] = peak
            with open(out, "rb") as f:
                tables[limit] = hashlib.sha256(f.read()).hexdigest()
            size = os.path.getsize(out)
            print(f"{label}, memory limit {limit}: {len(files)} objects, {text / 2**20:.0f} MiB gzip, "
                  f"{connections_of(err) or 0:,} connections, "
                  f"{spilled.group(1) if spilled else 0} runs spilled, {t:.2f} s, "
                  f"peak RSS {peak:.0f} MiB (median of {len(runs)}; largest {worst:.0f} MiB)")
        if len(set(tables.values())) != 1:
            sys.exit(f"{label}: the table differs between memory limits")
        print(f"{label}: the same table ({size:,} bytes) at every limit")
    for limit in args.memory_limits:
        ratio = peaks[("4x", limit)] / peaks[("1x", limit)]
        print(f"memory limit {limit}: the 4x window's peak is {ratio:.2f}x the 1x window's "
              f"(target: at most 1.2x)")


def speed(args, tmp, python):
    print(f"== speed on {args.data} ({args.threads} threads each, best of {args.runs})")
    files = objects(args.data)
    list_path = os.path.join(tmp, "files.json")
    with open(list_path, "w") as f:
        json.dump([os.path.abspath(p) for p in files], f)
    with open(files[0], "rb") as f:
        import gzip
        header = gzip.decompress(f.read()).split(b"\n", 1)[0].decode().split()
    stats = os.path.join(tmp, "stats.json")
    tools = [
        ("parse", [args.flowfence, "parse", "--threads", str(args.threads), "--output", "none",
                   "--quiet", "--stats-json", stats, os.path.join(args.data, "AWSLogs")]),
        ("aggregate", aggregate_argv(args.flowfence, args.data, args.threads,
                                     os.path.join(tmp, "connections.csv"), args.aggregate_arg)),
    ]
    key = ", ".join(f'"{c}"' for c in KEY)
    for name, template in ENGINES.items():
        if args.engines and name not in args.engines:
            continue
        script = os.path.join(tmp, f"run_{name}.py")  # not `duckdb.py`: it would shadow the module
        with open(script, "w") as f:
            f.write(template.format(threads=args.threads, key=key if name != "chdb" else ", ".join(f"`{c}`" for c in KEY),
                                    key_list=json.dumps(KEY), header=json.dumps(header)))
        tools.append((name, [python, script, list_path]))
    best = {name: float("inf") for name, _ in tools}
    groups = {}
    for i in range(args.runs):
        for name, argv in tools:
            t, out, err = run_timed(argv)
            best[name] = min(best[name], t)
            if name == "aggregate":
                groups[name] = connections_of(err)
            elif name != "parse":
                groups[name] = json.loads(out)["groups"]
            print(f"run {i + 1}: {name:10s} {t:7.2f} s", flush=True)
    mem = {name: peak_mib(argv) for name, argv in tools}
    s = json.load(open(stats))
    print()
    print(f"data: {len(files)} objects, {sum(os.path.getsize(f) for f in files) / 2**20:.0f} MiB gzip, "
          f"{s['text_bytes'] / 2**20:.0f} MiB of log text, {s['records']:,} records")
    for name, _ in tools:
        count = groups.get(name)
        what = "connections" if name == "aggregate" else "groups"
        print(f"{name:10s} best {best[name]:7.2f} s  peak RSS {mem[name]:6.0f} MiB"
              + (f"  {count:,} {what}" if count is not None else ""))
    engines = [n for n in best if n not in ("parse", "aggregate")]
    counts = {groups[n] for n in engines}
    print(f"groups: the engines {'agree' if len(counts) == 1 else 'DISAGREE'} "
          f"({', '.join(f'{n} {groups[n]:,}' for n in engines)}); "
          f"flowfence's store holds {groups.get('aggregate') or 0:,} connections (a request and its "
          f"response are one)")
    fastest = min(engines, key=lambda n: best[n])
    print(f"ratio: aggregate is {best[fastest] / best['aggregate']:.2f}x faster than the fastest engine "
          f"({fastest}, target 3x) and costs {best['aggregate'] / best['parse']:.2f}x flowfence's own parse "
          f"(target at most 1.4x)")
    if len(counts) != 1:
        sys.exit("the engines disagree on the group count")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowfence", required=True)
    ap.add_argument("--python", default=sys.executable, help="the venv's python, with the engines")
    ap.add_argument("--data", help="logs (AWSLogs/ and inventory/) for the speed part")
    ap.add_argument("--window-1x", help="the growing generator's logs for one window")
    ap.add_argument("--window-4x", help="... and for four")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--engines", nargs="*", help="only these engines (default: all four)")
    ap.add_argument("--memory-limits", nargs="*", default=["none", "1G", "64M", "16M"],
                    help="--memory-limit values the memory part runs at (none: no limit)")
    ap.add_argument("--aggregate-arg", action="append", default=[],
                    help="an extra argument for flowfence aggregate (repeatable)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.window_1x and args.window_4x:
            memory(args, tmp)
        if args.data:
            speed(args, tmp, args.python)


if __name__ == "__main__":
    main()
