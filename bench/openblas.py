#!/usr/bin/env python3
"""OpenBLAS sgemm (through numpy) on the shapes of bench/gemm-shapes.json: the reference that
native/gemm.cc is measured against. Reference only: the package never runs or needs Python.

Threads come from OPENBLAS_NUM_THREADS, read once at import, so run one process per thread count:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 python3 bench/openblas.py [--json]
Unsetting OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE lets OpenBLAS pick its kernel for this CPU.
Prints one line per shape (median GFLOPS of --repeats timed runs), or with --json one object
{"backend": "openblas", "threads": N, "gemm": [{name, m, n, k, transA, transB, backend, threads, gflops}]}.

Side by side with digitnet's sgemm (bench/gemm_bench.cc, built with CMake):
  python3 bench/openblas.py --compare build-gemm/gemm_bench [--threads 1,2] [--rounds 5]
runs the two programs alternately, one process per program, thread count and round (OpenBLAS with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its environment), and prints a Markdown table
of the medians over the rounds with the ratio ours / OpenBLAS.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

SHAPES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gemm-shapes.json")


def operand(rng, rows, cols, transposed):
    """A float32 operand of op() shape (rows, cols); a transposed view when stored the other way round."""
    if transposed:
        return rng.standard_normal((cols, rows), dtype=np.float32).T
    return rng.standard_normal((rows, cols), dtype=np.float32)


def time_shape(shape, min_seconds, repeats, clock):
    """Median GFLOPS of C = op(A) op(B) (numpy matmul into a preallocated C, so no allocation is timed)."""
    rng = np.random.default_rng(1)
    m, n, k = shape["m"], shape["n"], shape["k"]
    a = operand(rng, m, k, shape["transA"])
    b = operand(rng, k, n, shape["transB"])
    c = np.empty((m, n), dtype=np.float32)
    np.matmul(a, b, out=c)
    # Calls per timed run: enough to last min_seconds, so timer resolution does not matter.
    calls = 1
    while True:
        start = clock()
        for _ in range(calls):
            np.matmul(a, b, out=c)
        elapsed = clock() - start
        if elapsed >= min_seconds:
            break
        calls *= 2
    runs = []
    for _ in range(repeats):
        start = clock()
        for _ in range(calls):
            np.matmul(a, b, out=c)
        runs.append((clock() - start) / calls)
    return 2.0 * m * n * k / statistics.median(runs) / 1e9


def run_json(command, env=None):
    """Runs a benchmark process and returns the rows of its --json output."""
    done = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout)["gemm"]


def compare(args):
    """Alternates gemm_bench and this script per thread count and round; prints the median table."""
    gflops = {}  # (backend, name, threads) -> [GFLOPS per round]
    shapes = []
    for rnd in range(args.rounds):
        for threads in args.threads.split(","):
            common = ["--shapes", args.shapes, "--repeats", str(args.repeats), "--clock", args.clock,
                      "--min-seconds", str(args.min_seconds)] + (["--only", args.only] if args.only else [])
            ours = run_json([args.compare, "--json", "--threads", threads] + common)
            env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
            env["OPENBLAS_NUM_THREADS"] = threads
            theirs = run_json([sys.executable, os.path.abspath(__file__), "--json"] + common, env)
            for row in ours + theirs:
                gflops.setdefault((row["backend"], row["name"], row["threads"]), []).append(row["gflops"])
            if rnd == 0:
                shapes += [(row["name"], row["m"], row["n"], row["k"], row["transA"], row["transB"], row["threads"])
                           for row in ours]
            print(f"round {rnd + 1}/{args.rounds}, {threads} thread(s) done", file=sys.stderr, flush=True)
    print("| shape | m x n x k | op | threads | ours GFLOPS | OpenBLAS GFLOPS | ours / OpenBLAS |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name, m, n, k, ta, tb, threads in shapes:
        ours = statistics.median(gflops[("native", name, threads)])
        theirs = statistics.median(gflops[("openblas", name, threads)])
        op = ("A^T" if ta else "A") + " " + ("B^T" if tb else "B")
        print(f"| {name} | {m} x {n} x {k} | {op} | {threads} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--shapes", default=SHAPES, help="shape list (default: bench/gemm-shapes.json)")
    parser.add_argument("--only", help="time only the shapes whose name contains this text")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per shape (median reported)")
    parser.add_argument("--min-seconds", type=float, default=0.02, help="least duration of one timed run")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: divide by the process's CPU time (kernel efficiency on a shared machine)")
    parser.add_argument("--compare", metavar="GEMM_BENCH", help="path of bench/gemm_bench to compare with")
    parser.add_argument("--threads", default="1,2", help="with --compare: thread counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=5, help="with --compare: alternating rounds (median)")
    args = parser.parse_args()
    if args.compare:
        return compare(args)

    with open(args.shapes) as f:
        shapes = json.load(f)
    if args.only:
        shapes = [s for s in shapes if args.only in s["name"]]
    threads = int(os.environ.get("OPENBLAS_NUM_THREADS", "0")) or os.cpu_count()
    rows = []
    for shape in shapes:
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        gflops = time_shape(shape, args.min_seconds, args.repeats, clock)
        rows.append({**shape, "backend": "openblas", "threads": threads, "gflops": round(gflops, 1)})
        if not args.json:
            print(f"{shape['name']:<28} {shape['m']:>5} {shape['n']:>5} {shape['k']:>5} "
                  f"{'T' if shape['transA'] else 'N'}{'T' if shape['transB'] else 'N'} "
                  f"threads {threads:>2}  {gflops:8.1f} GFLOPS", flush=True)
    if args.json:
        json.dump({"backend": "openblas", "threads": threads, "gemm": rows}, sys.stdout)
        print()


if __name__ == "__main__":
    main()
