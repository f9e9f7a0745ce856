#!/usr/bin/python3
"""Turns bench/compare's raw outputs into one Markdown table.

  summarize.py MODEL KERNEL PREFIX THREADS...

Reads PREFIX-go-t<N>.txt (go test -bench output) and PREFIX-torch-t<N>.txt
(one JSON line per rule) and prints images/s per rule: Go's median over its
samples (fresh and trained state) beside PyTorch's median step, and their
ratios. Only the standard library: it runs where the harness runs.
"""
import json, re, statistics, sys

model, kernel, prefix, threads = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
bench = re.compile(r"^BenchmarkTrainStep/(\w+)/(fresh|trained)(?:-\d+)?\s.*?([\d.]+) images/s")


def loads(path):
    return [l.split(":", 1)[1].strip() for l in open(path) if l.startswith("# load average")]


go, torch, notes = {}, {}, []
for t in threads:
    path = f"{prefix}-go-t{t}.txt"
    for line in open(path):
        m = bench.match(line)
        if m:
            go.setdefault((m[1], m[2], t), []).append(float(m[3]))
    notes.append(f"Go {t} thr load {' → '.join(loads(path))}")
    path = f"{prefix}-torch-t{t}.txt"
    for line in open(path):
        if line.startswith("{"):
            r = json.loads(line)
            torch[(r["rule"], t)] = r["images_per_s"]
            version = r["torch"]
    notes.append(f"torch {t} thr load {' → '.join(loads(path))}")

# The paper's five rules first, in its order, then any other rule the Go
# benchmark has (PyTorch's anchor script has only the five: "—").
paper = ["bp", "fa_random", "fa_toeplitz", "usf_init", "usf_sn"]
rules = sorted({k[0] for k in go}, key=lambda r: (paper.index(r) if r in paper else len(paper), r))
print(f"**{model}**, gemm kernel {kernel}, torch {version}. Images/s at batch 128, one Adam step;")
print("Go: median of its samples; torch: median step. Ratio = Go / torch (torch from fresh weights).\n")
head = "| rule |"
sep = "|---|"
for t in threads:
    head += f" Go fresh {t} thr | Go trained {t} thr | torch {t} thr | ratio fresh | ratio trained |"
    sep += "---:|---:|---:|---:|---:|"
print(head)
print(sep)
for r in rules:
    row = f"| {r} |"
    for t in threads:
        f = statistics.median(go.get((r, "fresh", t), [float("nan")]))
        tr = statistics.median(go.get((r, "trained", t), [float("nan")]))
        p = torch.get((r, t))
        if p is None:
            row += f" {f:,.0f} | {tr:,.0f} | — | — | — |"
        else:
            row += f" {f:,.0f} | {tr:,.0f} | {p:,.0f} | {f / p:.2f} | {tr / p:.2f} |"
    print(row)
print("\nLoad averages (1, 5, 15 min) before → after each part: " + "; ".join(notes) + ".")
