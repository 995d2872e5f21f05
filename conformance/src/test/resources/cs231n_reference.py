"""Independent float64 check of layerkit's conformance reference, in numpy, following the CS231N
"Normalization and Dropout" formulas (layers.py): batchnorm forward and both backwards (the staged
computational graph and the simplified "alt" form), layernorm via the transpose trick, spatial batchnorm
via reshaping to (N*H*W, C), spatial groupnorm via reshaping to (N*G, -1), and softmax_loss.

Usage: python3 cs231n_reference.py DIR. DIR holds shapes.txt (lines "name d1 d2 ...", plus
"param name value") and one raw little-endian float64 file NAME.f64 per input array; every result is
written to DIR/out_NAME.f64 in C order.
"""
import os
import sys

import numpy as np


def load(directory):
    arrays, params = {}, {}
    with open(os.path.join(directory, "shapes.txt")) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "param":
                params[parts[1]] = float(parts[2])
                continue
            shape = tuple(int(d) for d in parts[1:])
            data = np.fromfile(os.path.join(directory, parts[0] + ".f64"), dtype="<f8")
            arrays[parts[0]] = data.reshape(shape)
    return arrays, params


def save(directory, name, array):
    np.ascontiguousarray(np.asarray(array, dtype="<f8")).tofile(os.path.join(directory, "out_" + name + ".f64"))


# ------------------------------------------------------------------ batchnorm, staged like the CS231N graph

def batchnorm_forward_train(x, gamma, beta, eps):
    mu = x.mean(axis=0)                 # step 1: mean over the batch
    xmu = x - mu                        # step 2: centre
    sq = xmu ** 2                       # step 3
    var = sq.mean(axis=0)               # step 4: biased variance
    sqrtvar = np.sqrt(var + eps)        # step 5
    ivar = 1.0 / sqrtvar                # step 6
    xhat = xmu * ivar                   # step 7: normalize
    out = gamma * xhat + beta           # steps 8-9: scale and shift
    return out, (xhat, gamma, xmu, ivar, sqrtvar, var, eps, mu)


def graph_backward_dx(dxhat, xmu, ivar, sqrtvar, var, eps):
    """Back through steps 7..1 of the staged forward, statistics over axis 0."""
    n = dxhat.shape[0]
    divar = np.sum(dxhat * xmu, axis=0)                 # step 7, branch to ivar
    dxmu1 = dxhat * ivar                                # step 7, branch to xmu
    dsqrtvar = -1.0 / (sqrtvar ** 2) * divar            # step 6
    dvar = 0.5 * 1.0 / np.sqrt(var + eps) * dsqrtvar    # step 5
    dsq = 1.0 / n * np.ones_like(dxhat) * dvar          # step 4
    dxmu2 = 2 * xmu * dsq                               # step 3
    dx1 = dxmu1 + dxmu2                                 # step 2, branch to x
    dmu = -1 * np.sum(dx1, axis=0)                      # step 2, branch to mu
    dx2 = 1.0 / n * np.ones_like(dxhat) * dmu           # step 1
    return dx1 + dx2


def batchnorm_backward(dout, cache):
    xhat, gamma, xmu, ivar, sqrtvar, var, eps, _ = cache
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dx = graph_backward_dx(dout * gamma, xmu, ivar, sqrtvar, var, eps)
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xhat, gamma, _, ivar, _, _, _, _ = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dx = (1.0 / n) * gamma * ivar * (n * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


# ------------------------------------------------------------------------------- layernorm (transpose trick)

def layernorm_forward(x, gamma, beta, eps):
    xt = x.T                                  # (D, N): statistics over axis 0 are per example
    mu = xt.mean(axis=0)
    xmu = xt - mu
    var = (xmu ** 2).mean(axis=0)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = (xmu * ivar).T
    out = gamma * xhat + beta
    return out, (xhat, gamma, xmu, ivar, sqrtvar, var, eps, mu)


def layernorm_backward(dout, cache):
    xhat, gamma, xmu, ivar, sqrtvar, var, eps, _ = cache
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dx = graph_backward_dx((dout * gamma).T, xmu, ivar, sqrtvar, var, eps).T
    return dx, dgamma, dbeta


# ---------------------------------------------------------------------------------------- spatial variants

def spatial_batchnorm_forward(x, gamma, beta, eps):
    n, c, h, w = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(-1, c)
    out, cache = batchnorm_forward_train(flat, gamma, beta, eps)
    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout, cache):
    n, c, h, w = dout.shape
    dx, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, c), cache)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, groups, eps):
    n, c, h, w = x.shape
    xt = x.reshape(n * groups, -1).T          # (L, N*G): one column per (n, group)
    mu = xt.mean(axis=0)
    xmu = xt - mu
    var = (xmu ** 2).mean(axis=0)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = (xmu * ivar).T.reshape(n, c, h, w)
    g = gamma.reshape(1, c, 1, 1)
    out = g * xhat + beta.reshape(1, c, 1, 1)
    return out, (xhat, g, xmu, ivar, sqrtvar, var, eps, groups, mu)


def spatial_groupnorm_backward(dout, cache):
    xhat, g, xmu, ivar, sqrtvar, var, eps, groups, _ = cache
    n, c, h, w = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = np.sum(dout * xhat, axis=(0, 2, 3))
    dxhat = (dout * g).reshape(n * groups, -1).T
    dx = graph_backward_dx(dxhat, xmu, ivar, sqrtvar, var, eps).T.reshape(n, c, h, w)
    return dx, dgamma, dbeta


# ------------------------------------------------------------------------------------------------- softmax

def softmax_loss(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    z = np.sum(np.exp(shifted), axis=1, keepdims=True)
    log_probs = shifted - np.log(z)
    probs = np.exp(log_probs)
    n = x.shape[0]
    loss = -np.sum(log_probs[np.arange(n), y]) / n
    dx = probs.copy()
    dx[np.arange(n), y] -= 1
    dx /= n
    return loss, dx


def main(directory):
    a, p = load(directory)
    eps = p["eps"]

    out, cache = batchnorm_forward_train(a["bn_x"], a["bn_gamma"], a["bn_beta"], eps)
    save(directory, "bn_out", out)
    save(directory, "bn_mean", cache[7])
    save(directory, "bn_var", cache[5])
    for name, fn in (("bn", batchnorm_backward), ("bn_alt", batchnorm_backward_alt)):
        dx, dgamma, dbeta = fn(a["bn_dout"], cache)
        save(directory, name + "_dx", dx)
        save(directory, name + "_dgamma", dgamma)
        save(directory, name + "_dbeta", dbeta)

    out, cache = layernorm_forward(a["ln_x"], a["ln_gamma"], a["ln_beta"], eps)
    save(directory, "ln_out", out)
    dx, dgamma, dbeta = layernorm_backward(a["ln_dout"], cache)
    save(directory, "ln_dx", dx)
    save(directory, "ln_dgamma", dgamma)
    save(directory, "ln_dbeta", dbeta)

    out, cache = spatial_batchnorm_forward(a["sbn_x"], a["sbn_gamma"], a["sbn_beta"], eps)
    save(directory, "sbn_out", out)
    dx, dgamma, dbeta = spatial_batchnorm_backward(a["sbn_dout"], cache)
    save(directory, "sbn_dx", dx)
    save(directory, "sbn_dgamma", dgamma)
    save(directory, "sbn_dbeta", dbeta)

    groups = int(p["gn_groups"])
    out, cache = spatial_groupnorm_forward(a["gn_x"], a["gn_gamma"], a["gn_beta"], groups, eps)
    save(directory, "gn_out", out)
    save(directory, "gn_mean", cache[8])
    dx, dgamma, dbeta = spatial_groupnorm_backward(a["gn_dout"], cache)
    save(directory, "gn_dx", dx)
    save(directory, "gn_dgamma", dgamma)
    save(directory, "gn_dbeta", dbeta)

    loss, dx = softmax_loss(a["sm_x"], a["sm_y"].astype(np.int64))
    save(directory, "sm_loss", np.array([loss]))
    save(directory, "sm_dx", dx)


if __name__ == "__main__":
    main(sys.argv[1])
