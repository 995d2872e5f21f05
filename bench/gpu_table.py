#!/usr/bin/env python3
"""The side-by-side table of a GPU session: layerkit's OpenCL timings next to PyTorch's, with the speed-up.

  python3 bench/gpu_table.py SESSION.txt [--torch torch-ops-pipelined|torch-ops] [--layerkit lk-default]

SESSION.txt is what bench/gpu-session.sh writes: '##### <step>' headers, each followed by that step's output.
layerkit rows come from the GpuCheck table of the --layerkit step (op, shape, ms, GB/s, % of copy), PyTorch rows
from the CSV of the --torch step (impl,op,shape,forward_ms,forward_backward_ms). Prints a Markdown table: per op and
shape, layerkit forward / forward+backward ms, its GB/s and share of its copy bandwidth for forward+backward,
PyTorch's forward / forward+backward ms, and speed-up = PyTorch ms / layerkit ms (above 1: layerkit is faster).
When the session has a --torch-conv step (pytorch_bench.py conv), its max-pool rows join the first table, and a
second table puts GpuCheck's conv2d rows of
its "conv=im2col gemm=clblast" section (the default algorithm) next to PyTorch's conv2d (cuDNN) at the same shapes.
Only Python's standard library; exits 1 with a message when a step is missing.
"""
import argparse
import re
import sys

# GpuCheck's op names -> (PyTorch's op name, 'f' forward or 'fb' forward+backward)
SUFFIXES = {".forward": "f", ".forward+backward": "fb", ".fwd+bwd": "fb"}


def sections(text):
    """{step name: its lines} from '##### name' headers."""
    out, name = {}, None
    for line in text.splitlines():
        m = re.match(r"^##### (\S+)", line)
        if m:
            name = m.group(1)
            out.setdefault(name, [])
        elif name is not None:
            out[name].append(line)
    return out


def layerkit_rows(lines):
    """{(op, shape): {'f': (ms, gbps, share), 'fb': ...}} from GpuCheck's timing table."""
    rows = {}
    pattern = re.compile(r"^(\S+)\s+(\[[0-9, ]+\])\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)%")
    for line in lines:
        m = pattern.match(line)
        if not m:
            continue
        name, shape = m.group(1), m.group(2).replace(" ", "")
        for suffix, kind in SUFFIXES.items():
            if name.endswith(suffix):
                op = name[: -len(suffix)]
                rows.setdefault((op, shape), {})[kind] = (float(m.group(3)), float(m.group(4)),
                                                          float(m.group(5)))
    return rows


def torch_rows(lines):
    """{(op, shape): (forward_ms, forward_backward_ms)} from pytorch_bench.py's ops CSV."""
    rows = {}
    for line in lines:
        m = re.match(r"^pytorch,(.+?),(\[[0-9,]+\]),([0-9.]+),([0-9.]+)(?:,[0-9]*)?$", line.strip())
        if m:
            rows[(m.group(1), m.group(2))] = (float(m.group(3)), float(m.group(4)))
    return rows


def layerkit_conv_rows(lines, section="conv=im2col gemm=clblast"):
    """{(F, K, pad, '[N,C,H,W]'): {'f': ms, 'fb': ms}} from one conv section of GpuCheck's output."""
    rows, inside = {}, False
    pattern = re.compile(r"^conv2d\.(forward\+backward|forward)\s+(\d+)x(\d+)x(\d+)x(\d+)f(\d+)k(\d+)s1p(\d+)"
                         r"\s+([0-9.]+)")
    for line in lines:
        if line.startswith("conv="):
            inside = line.startswith(section + ",")
            continue
        m = pattern.match(line) if inside else None
        if m:
            n, c, h, w, f, k, pad = (m.group(i) for i in range(2, 9))
            key = (f, k, pad, f"[{n},{c},{h},{w}]")
            rows.setdefault(key, {})["fb" if m.group(1) == "forward+backward" else "f"] = float(m.group(9))
    return rows


def torch_conv_rows(lines):
    """{(F, K, pad, shape): (forward_ms, forward_backward_ms)} from pytorch_bench.py conv's CSV (conv2d rows)."""
    rows = {}
    for line in lines:
        m = re.match(r"^pytorch,conv2d\(F=(\d+),K=(\d+),pad=(\d+)\),(\[[0-9,]+\]),([0-9.]+),([0-9.]+)",
                     line.strip())
        if m:
            rows[(m.group(1), m.group(2), m.group(3), m.group(4))] = (float(m.group(5)), float(m.group(6)))
    return rows


def conv_table(lk, torch):
    out = ["| conv2d | x | layerkit fwd / f+b ms | PyTorch fwd / f+b ms | speed-up fwd / f+b |",
           "|---|---|---:|---:|---:|"]
    for (f, k, pad, shape), r in lk.items():
        if "f" not in r or "fb" not in r:
            continue
        t = torch.get((f, k, pad, shape))
        tcol = f"{t[0]:.3f} / {t[1]:.3f}" if t else ""
        speed = f"{t[0] / r['f']:.2f}× / {t[1] / r['fb']:.2f}×" if t else ""
        out.append(f"| F={f} K={k} pad={pad} | {shape} | {r['f']:.3f} / {r['fb']:.3f} | {tcol} | {speed} |")
    return "\n".join(out)


def table(lk, torch):
    out = ["| op | shape | layerkit fwd / f+b ms | GB/s f+b | of copy | PyTorch fwd / f+b ms | speed-up fwd / f+b |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for (op, shape), r in lk.items():
        if "f" not in r or "fb" not in r:
            continue
        f, fb = r["f"][0], r["fb"][0]
        t = torch.get((op, shape))
        if t:
            tcol = f"{t[0]:.3f} / {t[1]:.3f}"
            speed = f"{t[0] / f:.2f}× / {t[1] / fb:.2f}×"
        else:
            tcol, speed = "", ""
        out.append(f"| {op} | {shape} | {f:.3f} / {fb:.3f} | {r['fb'][1]:.0f} | {r['fb'][2]:.0f} % | {tcol} | "
                   f"{speed} |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("session")
    p.add_argument("--torch", default="torch-ops-pipelined", help="the PyTorch step [torch-ops-pipelined]")
    p.add_argument("--layerkit", default="lk-default", help="the layerkit step [lk-default]")
    p.add_argument("--torch-conv", default="torch-conv", help="the PyTorch conv step, if any [torch-conv]")
    args = p.parse_args(argv)
    with open(args.session, encoding="utf-8") as f:
        steps = sections(f.read())
    for step in (args.layerkit, args.torch):
        if step not in steps:
            sys.exit(f"gpu_table: no step '{step}' in {args.session} (steps: {', '.join(steps) or 'none'})")
    lk = layerkit_rows(steps[args.layerkit])
    if not lk:
        sys.exit(f"gpu_table: step '{args.layerkit}' has no timing table")
    torch = torch_rows(steps[args.torch])
    if args.torch_conv in steps:
        torch.update(torch_rows(steps[args.torch_conv]))  # its max-pool rows
    print(table(lk, torch))
    conv = layerkit_conv_rows(steps[args.layerkit])
    if conv and args.torch_conv in steps:
        print()
        print(conv_table(conv, torch_conv_rows(steps[args.torch_conv])))


if __name__ == "__main__":
    main()
