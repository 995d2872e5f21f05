#!/usr/bin/env python3
"""PyTorch / numpy baselines for layerkit's benchmarks, measured on the same machine in the same run.

Prints CSV rows: impl,op,shape,forward_ms,forward_backward_ms (median over repeats, memory reused).
  python3 bench/pytorch_bench.py ops   [--threads 2] [--repeats 20] [--with-4d]
  python3 bench/pytorch_bench.py net   [--threads 1] [--epochs 1]   (Fashion-MNIST MLP, seconds per epoch)
Uses Debian's python3-torch (1.13, CPU) with /usr/bin/python3; numpy for the float32 dropout reference.
"""
import argparse, gzip, os, statistics, struct, sys, time

import numpy as np


def median_ms(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def ops(args):
    import torch
    torch.set_num_threads(args.threads)
    shapes = [(4096, 1024), (65536, 256)]
    print("impl,op,shape,forward_ms,forward_backward_ms")
    for n, d in shapes:
        shape = f"[{n},{d}]"
        x = torch.randn(n, d, requires_grad=True)
        dout = torch.randn(n, d)
        for name, mod in (("batchnorm", torch.nn.BatchNorm1d(d)), ("layernorm", torch.nn.LayerNorm(d)),
                          ("dropout", torch.nn.Dropout(0.5))):
            mod.train()

            def fwd():
                with torch.no_grad():
                    mod(x)

            def fwdbwd():
                x.grad = None
                mod(x).backward(dout)

            print(f"pytorch,{name},{shape},{median_ms(fwd, args.repeats):.3f},{median_ms(fwdbwd, args.repeats):.3f}",
                  flush=True)
        # numpy float32 inverted dropout: mask from uniform draws, y = x * mask / keep; backward dX = dOut * mask
        xn = np.random.randn(n, d).astype(np.float32)
        dn = np.random.randn(n, d).astype(np.float32)
        rng = np.random.default_rng(0)
        keep = np.float32(0.5)
        state = {}

        def np_fwd():
            m = (rng.random((n, d), dtype=np.float32) < keep).astype(np.float32) / keep
            state["m"] = m
            return xn * m

        def np_fwdbwd():
            np_fwd()
            return dn * state["m"]

        print(f"numpy,dropout,{shape},{median_ms(np_fwd, args.repeats):.3f},{median_ms(np_fwdbwd, args.repeats):.3f}",
              flush=True)
    if args.with_4d:
        # spatial batchnorm and groupnorm (G=8) at the 4-D shapes of `layerkit bench` and bench/CpuBench.java
        for n, c, h, w in ((64, 64, 32, 32), (256, 16, 32, 32)):
            shape = f"[{n},{c},{h},{w}]"
            x = torch.randn(n, c, h, w, requires_grad=True)
            dout = torch.randn(n, c, h, w)
            for name, mod in (("spatial_batchnorm", torch.nn.BatchNorm2d(c)), ("groupnorm(G=8)", torch.nn.GroupNorm(8, c))):
                mod.train()

                def fwd():
                    with torch.no_grad():
                        mod(x)

                def fwdbwd():
                    x.grad = None
                    mod(x).backward(dout)

                print(f"pytorch,{name},{shape},{median_ms(fwd, args.repeats):.3f},"
                      f"{median_ms(fwdbwd, args.repeats):.3f}", flush=True)
    # host copy bandwidth, bytes read + written, same definition as `layerkit bench`
    a = np.ones(128 * 1024 * 1024, dtype=np.float32)
    b = np.empty_like(a)
    np.copyto(b, a)
    ms = median_ms(lambda: np.copyto(b, a), 5, warmup=1)
    print(f"numpy,copy_GBps,[{a.size}],{2 * a.nbytes / ms / 1e6:.1f},", flush=True)
    if args.with_4d:
        # the same copy through torch on args.threads threads (Tensor.copy_ splits large copies)
        ta = torch.ones(a.size)
        tb = torch.empty_like(ta)
        ms = median_ms(lambda: tb.copy_(ta), 5, warmup=1)
        print(f"pytorch,copy_GBps_{args.threads}thread,[{ta.numel()}],{2 * ta.numel() * 4 / ms / 1e6:.1f},",
              flush=True)


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def net(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    root = args.data
    xtr = read_idx(os.path.join(root, "train-images-idx3-ubyte.gz")).reshape(60000, -1).astype(np.float32) / 255
    ytr = read_idx(os.path.join(root, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    xte = read_idx(os.path.join(root, "t10k-images-idx3-ubyte.gz")).reshape(10000, -1).astype(np.float32) / 255
    yte = read_idx(os.path.join(root, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-8
    xtr, xte = torch.from_numpy((xtr - mu) / sd), torch.from_numpy((xte - mu) / sd)
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    layers, prev = [], 784
    for h in (256, 128, 100):
        layers += [torch.nn.Linear(prev, h)]
        if args.bn:
            layers += [torch.nn.BatchNorm1d(h)]
        layers += [torch.nn.ReLU()]
        if args.dropout > 0:
            layers += [torch.nn.Dropout(args.dropout)]
        prev = h
    model = torch.nn.Sequential(*layers, torch.nn.Linear(prev, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    print("impl,epoch,seconds,test_accuracy")
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(60000)
        t0 = time.perf_counter()
        for i in range(0, 60000, args.batch):
            idx = perm[i:i + args.batch]
            opt.zero_grad()
            lossf(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
        secs = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        print(f"pytorch,{epoch},{secs:.2f},{acc:.4f}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["ops", "net"])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--no-bn", dest="bn", action="store_false")
    p.add_argument("--dropout", type=float, default=0.2, help="PyTorch p (drop probability); 0 for none")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--with-4d", action="store_true",
                   help="ops: also spatial batchnorm and groupnorm (G=8) at [64,64,32,32] and [256,16,32,32], "
                        "and torch's copy bandwidth on --threads threads")
    a = p.parse_args()
    if a.threads is None:
        a.threads = 2 if a.what == "ops" else 1
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit("pytorch_bench: PyTorch is missing: apt-get install python3-torch (and run with /usr/bin/python3)")
    ops(a) if a.what == "ops" else net(a)


if __name__ == "__main__":
    main()
