#!/usr/bin/env python3
"""PyTorch / numpy baselines for layerkit's benchmarks, measured on the same machine in the same run.

Prints CSV rows: impl,op,shape,forward_ms,forward_backward_ms (median over repeats, memory reused).
  python3 bench/pytorch_bench.py ops   [--threads 2] [--repeats 20] [--with-4d] [--device cpu|cuda] [--shapes 4096x1024,...]
  python3 bench/pytorch_bench.py gemm  [--threads 2] [--repeats 20] [--device cpu|cuda] [--gemm-shapes MxKxN,...]
  python3 bench/pytorch_bench.py net   [--threads 1] [--epochs 1] [--device cpu|cuda] [--synthetic] [--loss-every 10]
                                       (Fashion-MNIST MLP, seconds per epoch)
  python3 bench/pytorch_bench.py cnn   [--threads 1] [--epochs 1] [--max-steps N]
                                       (the Fashion-MNIST CNN of `layerkit train --net cnn`, seconds per epoch)
  python3 bench/pytorch_bench.py conv  [--threads 1] [--repeats 20] [--device cpu|cuda]
                                       [--conv-shapes NxCxHxW:F:K:PAD,...] [--pool-shapes NxCxHxW:K:STRIDE,...]
                                       (conv2d and max pool at a small Fashion-MNIST CNN's shapes)
Uses Debian's python3-torch (1.13, CPU) with /usr/bin/python3; numpy for the float32 dropout reference.

--device cuda (any CUDA build of PyTorch): tensors live on the GPU, fp32 (TF32 matmuls off unless --tf32), each
timed call sits between two CUDA events and is waited for, and the median of the event times is reported. The run
starts with '#' lines (device, torch, CUDA and cuDNN versions) that the CSV readers of bench/compare.sh skip. ops then
prints a device copy row (y.copy_(x) at the largest shape, GB/s counting bytes read + written) instead of the
numpy rows. gemm prints impl,op,shape,ms,gflops: op mm is A·B, mm_ABt is A·Bᵀ (B stored [N,K], as in an MLP's
dX = dY·Wᵀ) and mm_AtB is Aᵀ·B (A stored [K,M], as in dW = Xᵀ·dY); shape is [M,K,N], 2·M·K·N flops each.
net --synthetic trains on 60 000 random standardized 784-feature examples with random labels 0..9 (fixed seed):
a timing run only, so no accuracy is reported (its test_accuracy column is empty).
conv prints impl,op,shape,forward_ms,forward_backward_ms,forward_flops,forward_min_ms,forward_backward_min_ms (medians,
then the fastest run: on a shared machine the minimum is the steadier figure): op conv2d(F=..,K=..,pad=..) times
F.conv2d forward (no_grad) and forward + backward with x, w and bias requiring gradients (dX, dW, dB);
conv2d_no_dx(...) the same with x not requiring one (a first layer: dW and dB only); maxpool2d(K=..,stride=..)
F.max_pool2d. forward_flops is 2·N·F·C·KH·KW·H'·W' (0 for pools); forward+backward does 3× that (2× without dX).
cnn trains layerkit's default CNN preset (fashion: conv3x3x32 → BatchNorm2d → ReLU → max pool 2 → Dropout2d 0.2,
conv3x3x64 → …, flatten, linear 256 → BatchNorm1d → ReLU → dropout 0.5, linear 10; convs without bias) with Adam 1e-3 on batches of
128 of the first 55 000 training images, standardized by one mean and std, as layerkit does: 429 full batches per
epoch (the remainder skipped), each gathered from a shuffled order, the loss read every 10 steps. It prints
impl,epoch,seconds,test_accuracy; --max-steps N times only the first N steps of each epoch (after 5 untimed ones) to
compare thread settings quickly.
"""
import argparse, gzip, os, statistics, struct, sys, time

import numpy as np

DEFAULT_SHAPES = "4096x1024,65536x256"
DEFAULT_GEMM_SHAPES = "128x784x256,128x256x128,4096x4096x4096,1024x1024x1024"
# a small Fashion-MNIST CNN at batch 128: conv 1->32 at 28x28 and 32->64 at 14x14 (3x3, pad 1), 2x2 pools after each
DEFAULT_CONV_SHAPES = "128x1x28x28:32:3:1,128x32x14x14:64:3:1"
DEFAULT_POOL_SHAPES = "128x32x28x28:2:2,128x64x14x14:2:2"


def median_ms(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def median_ms_cuda(fn, repeats, warmup=3):
    """Median milliseconds of fn on the current CUDA stream: events around each call, waited for one by one."""
    import torch
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(repeats):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def mean_ms_cuda_pipelined(fn, repeats, warmup=3, rounds=3):
    """Milliseconds per call of fn queued back to back: `rounds` rounds of `repeats` calls, each ended by one sync;
    the mean of the fastest round (as layerkit's OpTimings measures: throughput of a loop, launch latency hidden
    behind the previous call, a host pause in one round ignored)."""
    import torch
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - t0) * 1e3 / repeats)
    return best


def timer(args):
    if args.device == "cuda":
        return mean_ms_cuda_pipelined if args.pipelined else median_ms_cuda
    return median_ms


def parse_shapes(text, dims, option, pattern):
    shapes = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            shape = tuple(int(v) for v in part.lower().split("x"))
        except ValueError:
            shape = ()
        if len(shape) != dims or min(shape) < 1:
            sys.exit(f"pytorch_bench: {option} expected {pattern},... with sizes >= 1, "
                     f"got '{part}'")
        shapes.append(shape)
    if not shapes:
        sys.exit(f"pytorch_bench: {option} is empty")
    return shapes


def setup_device(args):
    """Returns the torch device; on cuda, prints '#' lines describing it (CPU output stays as it always was)."""
    import torch
    if args.device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "built without CUDA"
        sys.exit(f"pytorch_bench: --device cuda: CUDA is not available (torch {torch.__version__}, {built})")
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    dev = torch.device("cuda")
    p = torch.cuda.get_device_properties(dev)
    print(f"# device: {torch.cuda.get_device_name(dev)} ({p.multi_processor_count} SMs, "
          f"{p.total_memory / 2**30:.1f} GiB, compute capability {p.major}.{p.minor})")
    print(f"# torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
          f"TF32 matmul {'on' if args.tf32 else 'off'}, fp32 tensors")
    if args.what == "net":
        print(f"# timing: wall clock per epoch of training steps, synchronized at its start and end; loss read every "
              f"{args.loss_every} steps", flush=True)
    else:
        if args.pipelined:
            print(f"# timing: per call, the fastest of 3 rounds of {args.repeats} calls queued back to back (one sync "
                  f"at the end of each) after {args.warmup} warm-up calls", flush=True)
        else:
            print(f"# timing: median of {args.repeats} CUDA-event times after {args.warmup} warm-up calls", flush=True)
    return dev


def ops(args):
    import torch
    torch.set_num_threads(args.threads)
    dev = setup_device(args)
    cuda = args.device == "cuda"
    med = timer(args)
    shapes = parse_shapes(args.shapes, 2, "--shapes", "NxD")
    print("impl,op,shape,forward_ms,forward_backward_ms")
    for n, d in shapes:
        shape = f"[{n},{d}]"
        x = torch.randn(n, d, device=dev, requires_grad=True)
        dout = torch.randn(n, d, device=dev)
        for name, mod in (("batchnorm", torch.nn.BatchNorm1d(d)), ("layernorm", torch.nn.LayerNorm(d)),
                          ("dropout", torch.nn.Dropout(0.5))):
            mod.to(dev).train()

            def fwd():
                with torch.no_grad():
                    mod(x)

            def fwdbwd():
                x.grad = None
                mod(x).backward(dout)

            print(f"pytorch,{name},{shape},{med(fwd, args.repeats, args.warmup):.3f},"
                  f"{med(fwdbwd, args.repeats, args.warmup):.3f}", flush=True)
        if cuda:
            del x, dout
            continue
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

        print(f"numpy,dropout,{shape},{median_ms(np_fwd, args.repeats, args.warmup):.3f},"
              f"{median_ms(np_fwdbwd, args.repeats, args.warmup):.3f}", flush=True)
    if args.with_4d:
        # spatial batchnorm and groupnorm (G=8) at the 4-D shapes of `layerkit bench` and bench/CpuBench.java
        for n, c, h, w in parse_shapes(args.shapes_4d, 4, "--shapes-4d", "NxCxHxW"):
            shape = f"[{n},{c},{h},{w}]"
            x = torch.randn(n, c, h, w, device=dev, requires_grad=True)
            dout = torch.randn(n, c, h, w, device=dev)
            for name, mod in (("spatial_batchnorm", torch.nn.BatchNorm2d(c)), ("groupnorm(G=8)", torch.nn.GroupNorm(8, c))):
                mod.to(dev).train()

                def fwd():
                    with torch.no_grad():
                        mod(x)

                def fwdbwd():
                    x.grad = None
                    mod(x).backward(dout)

                print(f"pytorch,{name},{shape},{med(fwd, args.repeats, args.warmup):.3f},"
                      f"{med(fwdbwd, args.repeats, args.warmup):.3f}", flush=True)
    if cuda:
        # device copy bandwidth at the largest --shapes shape, bytes read + written (as the OpenCL bundle's copy row)
        n, d = max(shapes, key=lambda s: s[0] * s[1])
        src = torch.randn(n, d, device=dev)
        dst = torch.empty_like(src)
        ms = med(lambda: dst.copy_(src), args.repeats, args.warmup)
        print(f"pytorch,copy_GBps_cuda,[{n},{d}],{2 * src.numel() * 4 / ms / 1e6:.1f},", flush=True)
        return
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


def gemm(args):
    import torch
    torch.set_num_threads(args.threads)
    dev = setup_device(args)
    med = timer(args)
    shapes = parse_shapes(args.gemm_shapes, 3, "--gemm-shapes", "MxKxN")
    print("impl,op,shape,ms,gflops")
    for m, k, n in shapes:
        a = torch.randn(m, k, device=dev)
        b = torch.randn(k, n, device=dev)
        bt = torch.randn(n, k, device=dev)   # B stored transposed: A·Bᵀ (dX = dY·Wᵀ)
        at = torch.randn(k, m, device=dev)   # A stored transposed: Aᵀ·B (dW = Xᵀ·dY)
        c = torch.empty(m, n, device=dev)
        flops = 2.0 * m * k * n
        for name, lhs, rhs in (("mm", a, b), ("mm_ABt", a, bt.t()), ("mm_AtB", at.t(), b)):
            ms = med(lambda: torch.mm(lhs, rhs, out=c), args.repeats, args.warmup)
            print(f"pytorch,{name},[{m},{k},{n}],{ms:.4f},{flops / ms / 1e6:.1f}", flush=True)
        del a, b, bt, at, c


def parse_specs(text, option, pattern, fields):
    """'128x1x28x28:32:3:1,...' into ((N, C, H, W), (32, 3, 1)) tuples: a 4-D shape and `fields` integers >= 0."""
    specs = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        pieces = part.split(":")
        try:
            shape = tuple(int(v) for v in pieces[0].lower().split("x"))
            rest = tuple(int(v) for v in pieces[1:])
        except ValueError:
            shape, rest = (), ()
        if len(shape) != 4 or min(shape) < 1 or len(rest) != fields or min(rest) < 0:
            sys.exit(f"pytorch_bench: {option} expected {pattern},... got '{part}'")
        specs.append((shape, rest))
    if not specs:
        sys.exit(f"pytorch_bench: {option} is empty")
    return specs


def conv(args):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(args.threads)
    dev = setup_device(args)
    cuda = args.device == "cuda"
    mins = {}

    def med(fn, repeats, warmup):
        """The median ms; the fastest run is kept in mins[fn] (on cuda the timer's figure for both)."""
        if cuda:
            mins[fn] = timer(args)(fn, repeats, warmup)
            return mins[fn]
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        mins[fn] = min(times)
        return statistics.median(times)

    print("impl,op,shape,forward_ms,forward_backward_ms,forward_flops,forward_min_ms,forward_backward_min_ms")
    for (n, c, h, w), (f, k, pad) in parse_specs(args.conv_shapes, "--conv-shapes", "NxCxHxW:F:K:PAD", 3):
        shape = f"[{n},{c},{h},{w}]"
        oh, ow = h + 2 * pad - k + 1, w + 2 * pad - k + 1
        flops = 2 * n * f * c * k * k * oh * ow
        wt = torch.randn(f, c, k, k, device=dev, requires_grad=True)
        b = torch.randn(f, device=dev, requires_grad=True)
        dout = torch.randn(n, f, oh, ow, device=dev)
        for name, x in ((f"conv2d(F={f},K={k},pad={pad})", torch.randn(n, c, h, w, device=dev, requires_grad=True)),
                        (f"conv2d_no_dx(F={f},K={k},pad={pad})", torch.randn(n, c, h, w, device=dev))):
            def fwd():
                with torch.no_grad():
                    F.conv2d(x, wt, b, 1, pad)

            def fwdbwd():
                x.grad = wt.grad = b.grad = None
                F.conv2d(x, wt, b, 1, pad).backward(dout)

            print(f"pytorch,{name},{shape},{med(fwd, args.repeats, args.warmup):.3f},"
                  f"{med(fwdbwd, args.repeats, args.warmup):.3f},{flops},{mins[fwd]:.3f},{mins[fwdbwd]:.3f}",
                  flush=True)
    for (n, c, h, w), (k, stride) in parse_specs(args.pool_shapes, "--pool-shapes", "NxCxHxW:K:STRIDE", 2):
        shape = f"[{n},{c},{h},{w}]"
        x = torch.randn(n, c, h, w, device=dev, requires_grad=True)
        dout = torch.randn(n, c, (h - k) // stride + 1, (w - k) // stride + 1, device=dev)

        def fwd():
            with torch.no_grad():
                F.max_pool2d(x, k, stride)

        def fwdbwd():
            x.grad = None
            F.max_pool2d(x, k, stride).backward(dout)

        print(f"pytorch,maxpool2d(K={k},stride={stride}),{shape},{med(fwd, args.repeats, args.warmup):.3f},"
              f"{med(fwdbwd, args.repeats, args.warmup):.3f},0,{mins[fwd]:.3f},{mins[fwdbwd]:.3f}", flush=True)


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(root):
    import torch
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz"]
    missing = [f for f in names if not os.path.exists(os.path.join(root, f))]
    if missing:
        sys.exit(f"pytorch_bench: net: {', '.join(missing)} not in {root} (--data DIR; or --synthetic for a timing "
                 f"run on random data)")
    xtr = read_idx(os.path.join(root, names[0])).reshape(60000, -1).astype(np.float32) / 255
    ytr = read_idx(os.path.join(root, names[1])).astype(np.int64)
    xte = read_idx(os.path.join(root, names[2])).reshape(10000, -1).astype(np.float32) / 255
    yte = read_idx(os.path.join(root, names[3])).astype(np.int64)
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-8
    xtr, xte = torch.from_numpy((xtr - mu) / sd), torch.from_numpy((xte - mu) / sd)
    return xtr, torch.from_numpy(ytr), xte, torch.from_numpy(yte)


def net(args):
    import torch
    torch.set_num_threads(args.threads)
    dev = setup_device(args)
    cuda = args.device == "cuda"
    torch.manual_seed(0)
    if args.synthetic:
        # Fashion-MNIST's shape: 60 000 × 784 standardized floats, labels uniform in 0..9 (a fixed generator, so the
        # data are the same on every device)
        g = torch.Generator().manual_seed(1)
        xtr = torch.randn(60000, 784, generator=g)
        ytr = torch.randint(0, 10, (60000,), generator=g)
        xte = yte = None
        print("# synthetic data: 60000 random examples of Fashion-MNIST's shape, random labels; timing run only, "
              "accuracy not measured", flush=True)
    else:
        xtr, ytr, xte, yte = load_fashion_mnist(args.data)
    ntrain = xtr.shape[0]
    layers, prev = [], 784
    for h in (256, 128, 100):
        layers += [torch.nn.Linear(prev, h)]
        if args.bn:
            layers += [torch.nn.BatchNorm1d(h)]
        layers += [torch.nn.ReLU()]
        if args.dropout > 0:
            layers += [torch.nn.Dropout(args.dropout)]
        prev = h
    model = torch.nn.Sequential(*layers, torch.nn.Linear(prev, 10)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    # on cuda the whole data set lives on the device and is shuffled there: only the loss, every --loss-every
    # steps, and the end-of-epoch synchronization wait for the device
    xtr, ytr = xtr.to(dev), ytr.to(dev)
    if xte is not None:
        xte, yte = xte.to(dev), yte.to(dev)
    print("impl,epoch,seconds,test_accuracy")
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(ntrain, device=dev)
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for step, i in enumerate(range(0, ntrain, args.batch), 1):
            idx = perm[i:i + args.batch]
            opt.zero_grad()
            loss = lossf(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            if step % args.loss_every == 0:
                value = loss.item()
                if not np.isfinite(value):
                    sys.exit(f"pytorch_bench: net: loss {value} at epoch {epoch}, step {step}")
        if cuda:
            torch.cuda.synchronize()
        secs = time.perf_counter() - t0
        if xte is None:
            print(f"pytorch,{epoch},{secs:.2f},", flush=True)
            continue
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        print(f"pytorch,{epoch},{secs:.2f},{acc:.4f}", flush=True)


def cnn(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz"]
    missing = [f for f in names if not os.path.exists(os.path.join(args.data, f))]
    if missing:
        sys.exit(f"pytorch_bench: cnn: {', '.join(missing)} not in {args.data} (--data DIR)")
    xtr = read_idx(os.path.join(args.data, names[0])).astype(np.float32)[:55000] / 255
    ytr = read_idx(os.path.join(args.data, names[1])).astype(np.int64)[:55000]
    xte = read_idx(os.path.join(args.data, names[2])).astype(np.float32) / 255
    yte = read_idx(os.path.join(args.data, names[3])).astype(np.int64)
    mu, sd = float(xtr.mean(dtype=np.float64)), float(xtr.std(dtype=np.float64))
    xtr = torch.from_numpy((xtr - mu) / sd).reshape(-1, 1, 28, 28).contiguous()
    xte = torch.from_numpy((xte - mu) / sd).reshape(-1, 1, 28, 28).contiguous()
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    nn = torch.nn
    p = 0.5 if args.dropout is None else args.dropout
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout2d(0.2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout2d(0.2),
        nn.Flatten(), nn.Linear(3136, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(p), nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss()
    n = xtr.shape[0]
    steps = n // args.batch
    print("impl,epoch,seconds,test_accuracy")
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(n)
        timed = steps if args.max_steps is None else min(steps, args.max_steps + 5)
        t0 = time.perf_counter()
        for step in range(1, timed + 1):
            if args.max_steps is not None and step == 6:
                t0 = time.perf_counter()
            idx = perm[(step - 1) * args.batch:step * args.batch]
            opt.zero_grad()
            loss = lossf(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            if step % args.loss_every == 0:
                value = loss.item()
                if not np.isfinite(value):
                    sys.exit(f"pytorch_bench: cnn: loss {value} at epoch {epoch}, step {step}")
        secs = time.perf_counter() - t0
        if args.max_steps is not None:
            print(f"pytorch,{epoch},{secs * steps / (timed - 5):.2f},", flush=True)
            continue
        model.eval()
        with torch.no_grad():
            acc = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
                      for i in range(0, 10000, 1000)) / 10000
        print(f"pytorch,{epoch},{secs:.2f},{acc:.4f}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["ops", "gemm", "net", "conv", "cnn"])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: 2 for ops/gemm, 1 for net)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3, help="ops/gemm: untimed calls before the timed ones")
    p.add_argument("--shapes", default=DEFAULT_SHAPES, help=f"ops: NxD,... [{DEFAULT_SHAPES}]")
    p.add_argument("--gemm-shapes", default=DEFAULT_GEMM_SHAPES, help=f"gemm: MxKxN,... [{DEFAULT_GEMM_SHAPES}]")
    p.add_argument("--conv-shapes", default=DEFAULT_CONV_SHAPES,
                   help=f"conv: NxCxHxW:F:K:PAD,... (stride 1) [{DEFAULT_CONV_SHAPES}]")
    p.add_argument("--pool-shapes", default=DEFAULT_POOL_SHAPES,
                   help=f"conv: max pools NxCxHxW:K:STRIDE,... [{DEFAULT_POOL_SHAPES}]")
    p.add_argument("--tf32", action="store_true", help="cuda: allow TF32 in matmuls (default: strict fp32)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--no-bn", dest="bn", action="store_false")
    p.add_argument("--dropout", type=float, default=None,
                   help="PyTorch p (drop probability); 0 for none [net 0.2, cnn 0.5]")
    p.add_argument("--max-steps", type=int, default=None,
                   help="cnn: time only the first N steps of each epoch (after 5 untimed), scaled to a whole epoch")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--synthetic", action="store_true",
                   help="net: random data of Fashion-MNIST's shape instead of the files (a timing run)")
    p.add_argument("--loss-every", type=int, default=10, help="net: read the loss to the host every N steps [10]")
    p.add_argument("--shapes-4d", default="64x64x32x32,256x16x32x32",
                   help="ops --with-4d: NxCxHxW,... [64x64x32x32,256x16x32x32]")
    p.add_argument("--pipelined", action="store_true",
                   help="cuda: report the mean of back-to-back calls (one sync at the end; fastest of 3 rounds) instead "
                        "of the median of event-timed single calls")
    p.add_argument("--with-4d", action="store_true",
                   help="ops: also spatial batchnorm and groupnorm (G=8) at [64,64,32,32] and [256,16,32,32], "
                        "and torch's copy bandwidth on --threads threads")
    a = p.parse_args()
    if a.threads is None:
        a.threads = 1 if a.what in ("net", "conv", "cnn") else 2
    if a.what == "net" and a.dropout is None:
        a.dropout = 0.2
    if a.repeats < 1 or a.warmup < 0 or a.loss_every < 1 or a.epochs < 1 or a.batch < 2:
        sys.exit("pytorch_bench: --repeats, --loss-every and --epochs expected >= 1, --warmup >= 0, --batch >= 2")
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit("pytorch_bench: PyTorch is missing: apt-get install python3-torch (and run with /usr/bin/python3)")
    {"ops": ops, "gemm": gemm, "net": net, "conv": conv, "cnn": cnn}[a.what](a)


if __name__ == "__main__":
    main()
