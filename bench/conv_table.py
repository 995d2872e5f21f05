#!/usr/bin/env python3
"""The tables of bench/compare.sh --conv: reads the CSVs of pytorch_bench.py conv (1 and 2 threads, impl renamed
pytorch1 / pytorch2) and bench/ConvBench.java (impl layerkit, with gemm(...) and gemm_square(...) rows) and prints two
markdown tables: medians, then the fastest runs (on a machine shared with other work the minimum is the steadier
figure of what the code itself costs).

  python3 bench/conv_table.py pytorch1.csv pytorch2.csv layerkit.csv
"""
import re
import sys

ROW = re.compile(r"^([a-z0-9]+),([a-z0-9_]+\([^)]*\)),(\[[0-9,]+\]),([0-9.]+),([0-9.]+),([0-9]+),([0-9.]+),([0-9.]+)$")


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


def table(rows, stat):
    print(f"| op | x shape | layerkit fwd ms | f+b ms | f+b GFLOP/s | its GEMMs alone GFLOP/s (%) | square GEMM "
          f"GFLOP/s (%) | PyTorch 1 thread fwd / f+b ms | PyTorch 2 threads fwd / f+b ms | speed-up vs PyTorch's "
          f"faster (fwd / f+b) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (impl, op, shape), r in rows.items():
        if impl != "layerkit" or op.startswith("gemm"):
            continue
        f, fb = r[stat]
        flops = r["flops"]
        conv = op.startswith("conv2d(")
        mult = 3 if conv else 2
        gflops = mult * flops / fb / 1e6 if flops else None
        gemm = rows.get(("layerkit", op.replace("conv2d", "gemm"), shape)) if conv else None
        gemm_gf = 3 * flops / gemm[stat][1] / 1e6 if gemm else None
        square = rows.get(("layerkit", op.replace("conv2d", "gemm_square"), shape)) if conv else None
        square_gf = square["flops"] / square[stat][0] / 1e6 if square else None
        cells = [op, shape, f"{f:.2f}", f"{fb:.2f}", f"{gflops:.1f}" if gflops else "",
                 f"{gemm_gf:.1f} ({100 * gflops / gemm_gf:.0f}%)" if gemm_gf else "",
                 f"{square_gf:.1f} ({100 * gflops / square_gf:.0f}%)" if square_gf else ""]
        best_f = best_fb = None
        for t in ("pytorch1", "pytorch2"):
            o = rows.get((t, op, shape))
            if o:
                of, ofb = o[stat]
                cells.append(f"{of:.2f} / {ofb:.2f}")
                best_f = of if best_f is None else min(best_f, of)
                best_fb = ofb if best_fb is None else min(best_fb, ofb)
            else:
                cells.append("")
        cells.append(f"{best_f / f:.2f}x / {best_fb / fb:.2f}x" if best_f else "")
        print("| " + " | ".join(cells) + " |")


def main(paths):
    rows = read(paths)
    print("Medians:")
    print()
    table(rows, "median")
    print()
    print("Fastest runs:")
    print()
    table(rows, "min")
    print()
    print("f+b: conv2d computes dX, dW and dB (3x the forward's 2·N·F·C·K·K·H'·W' FLOPs); conv2d_no_dx only dW and "
          "dB (2x; a first layer). Its GEMMs alone: layerkit's three GEMMs of an im2col convolution (out = W·cols, "
          "dW = dOut·colsᵀ, dcols = Wᵀ·dOut), one call each over the whole batch, same backend and run; square GEMM: "
          "one s×s·s×s GEMM with the forward's FLOPs (s = ∛(F·K·N·P)), the native GEMM at its best with that much "
          "work; (%) is conv2d f+b GFLOP/s over each. Speed-up = the faster PyTorch run (1 or 2 threads) ms / "
          "layerkit ms; > 1 means layerkit is faster.")


if __name__ == "__main__":
    main(sys.argv[1:])
