#!/usr/bin/env python3
"""The table of bench/compare.sh --conv: reads the CSVs of pytorch_bench.py conv (1 and 2 threads, impl renamed
pytorch1 / pytorch2) and bench/ConvBench.java (impl layerkit, with gemm(...) rows), prints markdown.

  python3 bench/conv_table.py pytorch1.csv pytorch2.csv layerkit.csv
"""
import re
import sys

ROW = re.compile(r"^([a-z0-9]+),([a-z0-9_]+\([^)]*\)),(\[[0-9,]+\]),([0-9.]+),([0-9.]+),([0-9]+)$")


def main(paths):
    rows = {}
    for path in paths:
        for line in open(path):
            m = ROW.match(line.strip())
            if m:
                rows[(m.group(1), m.group(2), m.group(3))] = (float(m.group(4)), float(m.group(5)), int(m.group(6)))
    print("| op | x shape | layerkit fwd ms | f+b ms | f+b GFLOP/s | its GEMMs alone GFLOP/s (%) | square GEMM "
          "GFLOP/s (%) | PyTorch 1 thread fwd / f+b ms | PyTorch 2 threads fwd / f+b ms | speed-up vs PyTorch's "
          "faster (fwd / f+b) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (impl, op, shape), (f, fb, flops) in rows.items():
        if impl != "layerkit" or op.startswith("gemm"):
            continue
        conv = op.startswith("conv2d(")
        mult = 3 if conv else 2
        gflops = mult * flops / fb / 1e6 if flops else None
        gemm = rows.get(("layerkit", op.replace("conv2d", "gemm"), shape)) if conv else None
        gemm_gf = 3 * flops / gemm[1] / 1e6 if gemm else None
        square = rows.get(("layerkit", op.replace("conv2d", "gemm_square"), shape)) if conv else None
        square_gf = square[2] / square[0] / 1e6 if square else None
        cells = [op, shape, f"{f:.2f}", f"{fb:.2f}", f"{gflops:.1f}" if gflops else "",
                 f"{gemm_gf:.1f} ({100 * gflops / gemm_gf:.0f}%)" if gemm_gf else "",
                 f"{square_gf:.1f} ({100 * gflops / square_gf:.0f}%)" if square_gf else ""]
        best_f = best_fb = None
        for t in ("pytorch1", "pytorch2"):
            o = rows.get((t, op, shape))
            cells.append(f"{o[0]:.2f} / {o[1]:.2f}" if o else "")
            if o:
                best_f = o[0] if best_f is None else min(best_f, o[0])
                best_fb = o[1] if best_fb is None else min(best_fb, o[1])
        cells.append(f"{best_f / f:.2f}x / {best_fb / fb:.2f}x" if best_f else "")
        print("| " + " | ".join(cells) + " |")
    print()
    print("f+b: conv2d computes dX, dW and dB (3x the forward's 2·N·F·C·K·K·H'·W' FLOPs); conv2d_no_dx only dW and "
          "dB (2x; a first layer). Its GEMMs alone: layerkit's three GEMMs of an im2col convolution (out = W·cols, "
          "dW = dOut·colsᵀ, dcols = Wᵀ·dOut), one call each over the whole batch, same backend and run; square GEMM: "
          "one s×s·s×s GEMM with the forward's FLOPs (s = ∛(F·K·N·P)), the native GEMM at its best with that much "
          "work; (%) is conv2d f+b GFLOP/s over each. Speed-up = the faster PyTorch run (1 or 2 threads) ms / "
          "layerkit ms; > 1 means layerkit is faster.")


if __name__ == "__main__":
    main(sys.argv[1:])
