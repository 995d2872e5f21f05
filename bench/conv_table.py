#!/usr/bin/env python3
"""The tables of bench/compare.sh --conv. Reads the CSVs of pytorch_bench.py conv on 1 and 2 threads (impl renamed
pytorch1 / pytorch2) and of bench/ConvBench.java on 1 thread and on both cores (impl layerkit1 / layerkit2, with
gemm(...) and gemm_square(...) rows), and prints markdown: times, then throughput, each for the medians and for the
fastest runs (on a machine shared with other work the minimum is the steadier figure of what the code itself costs;
there, the 1-thread pairs are the fairer comparison, since a 1-thread run needs one free core and a 2-thread run two).

  python3 bench/conv_table.py pytorch1.csv pytorch2.csv layerkit1.csv layerkit2.csv
"""
import re
import sys

ROW = re.compile(r"^([a-z0-9]+),([a-z0-9_]+\([^)]*\)),(\[[0-9,]+\]),([0-9.]+),([0-9.]+),([0-9]+),([0-9.]+),([0-9.]+)$")
IMPLS = (("layerkit1", "layerkit, 1 thread"), ("layerkit2", "layerkit, 2 threads"), ("pytorch1", "PyTorch, 1 thread"),
         ("pytorch2", "PyTorch, 2 threads"))


def read(paths):
    rows = {}
    for path in paths:
        for line in open(path):
            m = ROW.match(line.strip())
            if m:
                v = [float(m.group(i)) for i in (4, 5, 7, 8)]
                rows[(m.group(1), m.group(2), m.group(3))] = {"median": (v[0], v[1]), "min": (v[2], v[3]),
                                                              "flops": int(m.group(6))}
    return rows


def ops(rows):
    seen = []
    for (impl, op, shape) in rows:
        if impl.startswith("layerkit") and not op.startswith("gemm") and (op, shape) not in seen:
            seen.append((op, shape))
    return seen


def times(rows, stat):
    print("| op | x shape | " + " | ".join(f"{label} fwd / f+b ms" for _, label in IMPLS)
          + " | f+b speed-up, 1 thread vs 1 thread | f+b speed-up, faster vs faster |")
    print("|---|---|" + "---:|" * (len(IMPLS) + 2))
    for op, shape in ops(rows):
        cells = [op, shape]
        fb = {}
        for impl, _ in IMPLS:
            r = rows.get((impl, op, shape))
            cells.append(f"{r[stat][0]:.2f} / {r[stat][1]:.2f}" if r else "")
            if r:
                fb[impl] = r[stat][1]
        one = f"{fb['pytorch1'] / fb['layerkit1']:.2f}x" if "pytorch1" in fb and "layerkit1" in fb else ""
        lk = [fb[i] for i in ("layerkit1", "layerkit2") if i in fb]
        pt = [fb[i] for i in ("pytorch1", "pytorch2") if i in fb]
        best = f"{min(pt) / min(lk):.2f}x" if lk and pt else ""
        print("| " + " | ".join(cells + [one, best]) + " |")


def throughput(rows, stat):
    print("| op | x shape | layerkit threads | f+b GFLOP/s | its GEMMs alone GFLOP/s (%) | square GEMM GFLOP/s (%) |")
    print("|---|---|---:|---:|---:|---:|")
    for op, shape in ops(rows):
        if not op.startswith("conv2d("):
            continue
        for impl, threads in (("layerkit1", 1), ("layerkit2", 2)):
            r = rows.get((impl, op, shape))
            if not r:
                continue
            gflops = 3 * r["flops"] / r[stat][1] / 1e6
            gemm = rows.get((impl, op.replace("conv2d", "gemm"), shape))
            square = rows.get((impl, op.replace("conv2d", "gemm_square"), shape))
            g = 3 * r["flops"] / gemm[stat][1] / 1e6 if gemm else None
            sq = square["flops"] / square[stat][0] / 1e6 if square else None
            print(f"| {op} | {shape} | {threads} | {gflops:.1f} | "
                  + (f"{g:.1f} ({100 * gflops / g:.0f}%)" if g else "") + " | "
                  + (f"{sq:.1f} ({100 * gflops / sq:.0f}%)" if sq else "") + " |")


def main(paths):
    rows = read(paths)
    for stat, title in (("median", "Medians"), ("min", "Fastest runs")):
        print(f"{title}, milliseconds:")
        print()
        times(rows, stat)
        print()
        print(f"{title}, conv2d forward + backward throughput:")
        print()
        throughput(rows, stat)
        print()
    print("f+b: conv2d computes dX, dW and dB (3x the forward's 2·N·F·C·K·K·H'·W' FLOPs); conv2d_no_dx only dW and "
          "dB (2x; a first layer). Its GEMMs alone: layerkit's three GEMMs of an im2col convolution (out = W·cols, "
          "dW = dOut·colsᵀ, dcols = Wᵀ·dOut), one call each over the whole batch, same threads and run; square "
          "GEMM: one s×s·s×s GEMM with the forward's FLOPs (s = ∛(F·K·N·P)), the native GEMM at its best with that "
          "much work; (%) is conv2d f+b GFLOP/s over each. Speed-ups are PyTorch ms / layerkit ms (> 1: layerkit is "
          "faster); 'faster vs faster' takes each side's faster of 1 and 2 threads.")


if __name__ == "__main__":
    main(sys.argv[1:])
