package org.layerkit.opencl;

import static org.jocl.CL.clEnqueueNDRangeKernel;
import static org.jocl.CL.clSetKernelArg;

import java.util.ArrayList;
import java.util.List;

import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;

/**
 * One kernel launch: collects the arguments in order, then sets them and enqueues the kernel under the context's
 * lock. Errors name the op the launch serves.
 */
final class ClLaunch {
    /** Upper bound for 1-D element-wise work-groups and reduction work-groups. */
    static final int PREFERRED_GROUP = 256;
    /**
     * Work-groups along dimension 1 of a launch: CUDA grids allow 65,535 in y, a limit NVIDIA's OpenCL inherits, so
     * row-wise launches stay within it and loop.
     */
    static final int MAX_GROUPS_Y = 65_535;

    private final ClContext ctx;
    private final String op;
    private final String family;
    private final String name;
    private final List<Object> args = new ArrayList<>();

    /** A local-memory argument of a number of bytes. */
    private record Local(long bytes) {
    }

    ClLaunch(ClContext ctx, String op, String family, String name) {
        this.ctx = ctx;
        this.op = op;
        this.family = family;
        this.name = name;
    }

    ClLaunch mem(ClTensor t) {
        args.add(t.mem());
        return this;
    }

    ClLaunch mem(cl_mem m) {
        args.add(m);
        return this;
    }

    ClLaunch i(int v) {
        args.add(v);
        return this;
    }

    /** A 64-bit {@code long} argument (column and element offsets that may pass 2^31). */
    ClLaunch l(long v) {
        args.add(v);
        return this;
    }

    ClLaunch f(float v) {
        args.add(v);
        return this;
    }

    ClLaunch local(long bytes) {
        args.add(new Local(bytes));
        return this;
    }

    /** One work-item per element 0..n−1 (the kernel ignores the rounded-up tail). */
    void run1d(long n) {
        long local = Math.min(ctx.preferredGroup(), ctx.kernelWorkGroupSize(family, name));
        run(new long[] {roundUp(n, local)}, new long[] {local});
    }

    /**
     * A 2-D range for {@code rows} rows of {@code width} work-items each (the kernel ignores the rounded-up tail of
     * a row): dimension 0 runs along a row, dimension 1 over the rows, so kernels index without dividing. At most
     * {@value #MAX_GROUPS_Y} rows are launched; kernels stride over the rest by {@code get_global_size(1)}.
     */
    void runRows(long width, long rows) {
        long local = Math.min(ctx.preferredGroup(), ctx.kernelWorkGroupSize(family, name));
        local = Math.min(local, ceilPow2(width));
        run(new long[] {roundUp(width, local), Math.min(rows, MAX_GROUPS_Y)}, new long[] {local, 1});
    }

    /**
     * One work-item per value of a gx × gy × gz range, for kernels without a loop around their work (the form PoCL
     * vectorizes across work-items): work-groups of about the preferred size — LX = gx when it fits, LY then LZ fill
     * the rest, each evenly ({@link #balanced}) and within the device's work-items per dimension — and, because NVIDIA allows at most {@value #MAX_GROUPS_Y} work-groups along y and along z, as many
     * launches as that takes. Each launch gets two trailing {@code long} arguments, appended here: the first y and
     * first z of its slab, which the kernel adds to {@code get_global_id(1)} and {@code (2)}. Kernels ignore the
     * rounded-up tail of each dimension.
     */
    void runGrid(long gx, long gy, long gz) {
        long group = Math.min(ctx.preferredGroup(), ctx.kernelWorkGroupSize(family, name));
        long lx = balanced(gx, Math.min(group, ctx.maxWorkItems(0)));
        long ly = balanced(gy, Math.min(Math.max(1, group / lx), ctx.maxWorkItems(1)));
        long lz = balanced(gz, Math.min(Math.max(1, group / (lx * ly)), ctx.maxWorkItems(2)));
        long slabY = (long) ctx.gridGroupLimit() * ly;
        long slabZ = (long) ctx.gridGroupLimit() * lz;
        int base = args.size();
        for (long z0 = 0; z0 < gz; z0 += slabZ) {
            for (long y0 = 0; y0 < gy; y0 += slabY) {
                args.subList(base, args.size()).clear();
                args.add(y0);
                args.add(z0);
                run(new long[] {roundUp(gx, lx), roundUp(Math.min(slabY, gy - y0), ly),
                        roundUp(Math.min(slabZ, gz - z0), lz)}, new long[] {lx, ly, lz});
            }
        }
    }

    /**
     * The local size for {@code n} work-items at most {@code max} per group that wastes the least on rounding up: the
     * groups needed at {@code max}, evenly filled (28 rows, at most 9 a group: 4 groups of 7, not 4 of 9).
     */
    static long balanced(long n, long max) {
        return ceilDiv(n, ceilDiv(n, max));
    }

    /** A 2-D launch with an explicit work-group; global sizes must be multiples of the local ones. */
    void run2d(long gx, long gy, long lx, long ly) {
        run(new long[] {gx, gy}, new long[] {lx, ly});
    }

    private void run(long[] global, long[] local) {
        synchronized (ctx) {
            ctx.checkOpen(op);
            cl_kernel k = ctx.kernel(family, name);
            try {
                for (int a = 0; a < args.size(); a++) {
                    Object v = args.get(a);
                    if (v instanceof cl_mem m) {
                        clSetKernelArg(k, a, Sizeof.cl_mem, Pointer.to(m));
                    } else if (v instanceof Integer x) {
                        clSetKernelArg(k, a, Sizeof.cl_int, Pointer.to(new int[] {x}));
                    } else if (v instanceof Long x) {
                        clSetKernelArg(k, a, Sizeof.cl_long, Pointer.to(new long[] {x}));
                    } else if (v instanceof Float x) {
                        clSetKernelArg(k, a, Sizeof.cl_float, Pointer.to(new float[] {x}));
                    } else if (v instanceof Local l) {
                        clSetKernelArg(k, a, l.bytes(), null);
                    } else {
                        throw new IllegalStateException(op + ": unsupported kernel argument " + v);
                    }
                }
                clEnqueueNDRangeKernel(ctx.queue(), k, global.length, null, global, local, 0, null, null);
            } catch (CLException e) {
                throw ctx.error(op + " (kernel " + family + "." + name + ")", e);
            }
        }
    }

    static long ceilDiv(long n, long d) {
        return (n + d - 1) / d;
    }

    static long roundUp(long n, long multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }

    /** The largest power of two ≤ n (n ≥ 1). */
    static int floorPow2(long n) {
        return Integer.highestOneBit((int) Math.min(n, 1 << 30));
    }

    /** The smallest power of two ≥ n (n ≥ 1). */
    static int ceilPow2(long n) {
        int p = 1;
        while (p < n && p < (1 << 30)) {
            p <<= 1;
        }
        return p;
    }
}
