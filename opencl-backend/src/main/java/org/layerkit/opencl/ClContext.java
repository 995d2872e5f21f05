package org.layerkit.opencl;

import static org.jocl.CL.CL_CONTEXT_PLATFORM;
import static org.jocl.CL.CL_DEVICE_EXTENSIONS;
import static org.jocl.CL.CL_DEVICE_MAX_MEM_ALLOC_SIZE;
import static org.jocl.CL.CL_DEVICE_MAX_WORK_GROUP_SIZE;
import static org.jocl.CL.CL_INVALID_BUFFER_SIZE;
import static org.jocl.CL.CL_KERNEL_WORK_GROUP_SIZE;
import static org.jocl.CL.CL_MEM_OBJECT_ALLOCATION_FAILURE;
import static org.jocl.CL.CL_MEM_READ_WRITE;
import static org.jocl.CL.CL_OUT_OF_HOST_MEMORY;
import static org.jocl.CL.CL_OUT_OF_RESOURCES;
import static org.jocl.CL.CL_PROGRAM_BUILD_LOG;
import static org.jocl.CL.CL_COMPLETE;
import static org.jocl.CL.CL_EVENT_COMMAND_EXECUTION_STATUS;
import static org.jocl.CL.CL_FALSE;
import static org.jocl.CL.CL_TRUE;
import static org.jocl.CL.clBuildProgram;
import static org.jocl.CL.clCreateBuffer;
import static org.jocl.CL.clCreateCommandQueue;
import static org.jocl.CL.clCreateContext;
import static org.jocl.CL.clCreateKernel;
import static org.jocl.CL.clCreateProgramWithSource;
import static org.jocl.CL.clEnqueueCopyBuffer;
import static org.jocl.CL.clEnqueueReadBuffer;
import static org.jocl.CL.clEnqueueWriteBuffer;
import static org.jocl.CL.clFinish;
import static org.jocl.CL.clGetEventInfo;
import static org.jocl.CL.clGetKernelWorkGroupInfo;
import static org.jocl.CL.clGetProgramBuildInfo;
import static org.jocl.CL.clReleaseCommandQueue;
import static org.jocl.CL.clReleaseContext;
import static org.jocl.CL.clReleaseEvent;
import static org.jocl.CL.clReleaseKernel;
import static org.jocl.CL.clReleaseMemObject;
import static org.jocl.CL.clReleaseProgram;
import static org.jocl.CL.clWaitForEvents;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.jocl.CL;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_context_properties;
import org.jocl.cl_device_id;
import org.jocl.cl_event;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;
import org.jocl.cl_program;
import org.layerkit.api.BackendException;
import org.layerkit.api.DeviceInfo;
import org.layerkit.api.StorageTracker;

/**
 * One OpenCL device as layerkit uses it: platform, device, context, one in-order command queue, the buffers'
 * live-byte count, and a program cache holding each kernel family ({@code kernels/<family>.cl}, prefixed by
 * {@code kernels/common.cl}) built once on first use.
 *
 * <p>Closed tensors return their buffers to a pool of released buffers by size, which later allocations of the
 * same size reuse: a training step allocates the same shapes every step, and creating and freeing device memory
 * each time costs driver calls (and, on CUDA-based drivers, synchronization).
 *
 * <p>Every CL failure becomes a {@link BackendException} that names the op, the device and the CL error code;
 * a failed build carries the build log; an allocation failure says how many bytes were requested. Calls are
 * serialized on this object (kernel objects hold their arguments, so a launch is set-args-then-enqueue under
 * one lock).
 */
public final class ClContext implements AutoCloseable {
    /** The widest reduction tree per statistic on CPU devices (see {@link #treeWidth()}). */
    static final int CPU_TREE_WIDTH = 32;
    private final DeviceInfo info;
    private final cl_device_id device;
    private final cl_context context;
    private final cl_command_queue queue;
    private final boolean fp64;
    private final long maxWorkGroupSize;
    /** CL_DEVICE_MAX_WORK_ITEM_SIZES: work-items per group along x, y, z (NVIDIA: 1024, 1024, 64). */
    private final long[] maxWorkItemSizes;
    private final long maxAllocBytes;
    /** Work-items per work-group the launches aim for (option {@code groupSize}; {@link ClLaunch#PREFERRED_GROUP}). */
    private final int preferredGroup;
    private final Map<String, cl_program> programs = new HashMap<>();
    private final Map<String, cl_kernel> kernels = new HashMap<>();
    /** CL_KERNEL_WORK_GROUP_SIZE per kernel, queried once (launches ask for it every time). */
    private final Map<String, Long> kernelGroups = new HashMap<>();
    private final AtomicLong liveBytes = new AtomicLong();
    private final AtomicLong liveBuffers = new AtomicLong();
    /** Released buffers by size, reused by {@link #allocate}: training steps allocate the same shapes each step. */
    private final Map<Long, ArrayDeque<cl_mem>> pool = new HashMap<>();
    private final long poolCapBytes;
    private long pooledBytes;
    /** Uploads in flight: a staging copy of the caller's array and the event of its non-blocking write. */
    private record Staged(ByteBuffer stage, cl_event done) {
    }
    private final ArrayDeque<Staged> staged = new ArrayDeque<>();
    private long stagedBytes;
    /** Free staging buffers by size, reused like device buffers (uploads repeat the batch shapes every step). */
    private final Map<Integer, ArrayDeque<ByteBuffer>> stages = new HashMap<>();
    private long stagePoolBytes;
    /** The buffers of open tensors: counted, reclaimed when their tensor is dropped unclosed, released at close. */
    private final StorageTracker tracker;
    private volatile boolean closed;
    /** Work-groups along y and along z per launch of {@link ClLaunch#runGrid}; lowered by tests to force slabs. */
    private volatile int gridGroupLimit = ClLaunch.MAX_GROUPS_Y;
    private volatile long[] workItemCapForTests;

    // clCreateCommandQueue is the OpenCL 1.2 call; its 2.0 replacement is missing on 1.2-only drivers
    @SuppressWarnings("deprecation")
    private ClContext(ClDevices.Entry entry, int preferredGroup, boolean floatAccumulators) {
        this.info = entry.info();
        this.preferredGroup = preferredGroup;
        this.device = entry.device();
        String op = "opencl.open";
        try {
            cl_context_properties props = new cl_context_properties();
            props.addProperty(CL_CONTEXT_PLATFORM, entry.platform());
            this.context = clCreateContext(props, 1, new cl_device_id[] {device}, null, null, null);
        } catch (CLException e) {
            throw error(op, e);
        }
        try {
            this.queue = clCreateCommandQueue(context, device, 0, null);
            this.fp64 = !floatAccumulators
                    && ClDevices.deviceString(device, CL_DEVICE_EXTENSIONS).contains("cl_khr_fp64");
            this.maxWorkGroupSize = ClDevices.deviceSize(device, CL_DEVICE_MAX_WORK_GROUP_SIZE);
            this.maxWorkItemSizes = ClDevices.maxWorkItemSizes(device);
            this.maxAllocBytes = ClDevices.deviceLong(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
            this.poolCapBytes = Math.min(info.memoryBytes() / 4, 4L << 30);
            this.tracker = new StorageTracker(ClBackendProvider.NAME, gcNudgeBytes(info.memoryBytes()));
        } catch (CLException e) {
            clReleaseContext(context);
            throw error(op, e);
        }
    }

    /** Opens a context and queue on the device whose launches aim for {@code preferredGroup} work-items. */
    static ClContext open(ClDevices.Entry entry, int preferredGroup) {
        return new ClContext(entry, preferredGroup, false);
    }

    /**
     * As {@link #open(ClDevices.Entry, int)}; {@code floatAccumulators} makes reductions accumulate in float even
     * where the device has double precision (option {@code accumulator=float}).
     */
    static ClContext open(ClDevices.Entry entry, int preferredGroup, boolean floatAccumulators) {
        return new ClContext(entry, preferredGroup, floatAccumulators);
    }

    /**
     * Work-items per work-group that element-wise launches and reduction trees aim for (each kernel's own limit
     * still applies): 256 unless the backend option {@code groupSize} says otherwise.
     */
    int preferredGroup() {
        return preferredGroup;
    }

    /** Work-groups along y and along z that one {@link ClLaunch#runGrid} launch may use. */
    int gridGroupLimit() {
        return gridGroupLimit;
    }

    /** Lowers {@link #gridGroupLimit()} so that small ranges go in several slabs (tests). */
    void gridGroupLimitForTests(int limit) {
        gridGroupLimit = limit;
    }

    /** The device this context computes on. */
    public DeviceInfo device() {
        return info;
    }

    /**
     * The native {@code cl_device_id} of that device: the same for every context on one device, different for two
     * devices even where their names and infos read alike (PoCL's {@code POCL_DEVICES="pthread pthread"}).
     */
    public long deviceHandle() {
        return device.getNativePointer();
    }

    /**
     * Live tensor bytes at which the garbage collector is first nudged to find tensors dropped without close()
     * ({@link StorageTracker}): 1/256 of the device's memory, within 64 MiB … 1 GiB.
     */
    static long gcNudgeBytes(long deviceBytes) {
        return Math.max(64L << 20, Math.min(1L << 30, deviceBytes / 256));
    }

    /** The tracker of this context's tensor buffers. */
    StorageTracker tracker() {
        return tracker;
    }

    /** Tensors allocated here and not yet closed, reclaimed or released by {@link #close()}. */
    public long liveTensors() {
        return tracker.liveCount();
    }

    /** Bytes held by tensors allocated here and not yet closed (tests use it to find leaks; the pool is apart). */
    public long liveBytes() {
        return liveBytes.get();
    }

    /** Buffers allocated here and not yet released. */
    public long liveBuffers() {
        return liveBuffers.get();
    }

    /** Whether reductions accumulate in double (the device has cl_khr_fp64, and option accumulator is auto). */
    public boolean hasFp64() {
        return fp64;
    }

    /** Bytes of one reduction accumulator ({@code acc_t} in common.cl). */
    int accBytes() {
        return fp64 ? Sizeof.cl_double : Sizeof.cl_float;
    }

    /** The largest single buffer the device allows (CL_DEVICE_MAX_MEM_ALLOC_SIZE). */
    public long maxAllocBytes() {
        return maxAllocBytes;
    }

    long maxWorkGroupSize() {
        return maxWorkGroupSize;
    }

    /** The most work-items a work-group may have along dimension {@code dim} (0, 1 or 2). */
    long maxWorkItems(int dim) {
        long[] cap = workItemCapForTests;
        return Math.max(1, cap == null ? maxWorkItemSizes[dim] : Math.min(cap[dim], maxWorkItemSizes[dim]));
    }

    /** Caps {@link #maxWorkItems} below the device's limits, as a GPU's 64 along z would (tests). */
    void maxWorkItemsForTests(long x, long y, long z) {
        workItemCapForTests = new long[] {x, y, z};
    }

    // ---------------------------------------------------------------- errors

    /** A BackendException naming op, device and the CL error code name; out-of-memory codes say so. */
    BackendException error(String op, CLException e) {
        int code = e.getStatus();
        String name = CL.stringFor_errorCode(code);
        String what = isOutOfMemory(code) ? "out of device memory (" + name + ")" : name;
        return new BackendException(op + ": OpenCL error " + what + " on " + info.name() + " ["
                + info.platform() + "]; this backend holds " + liveBytes.get() + " bytes in " + liveBuffers.get()
                + " buffers", e);
    }

    private static boolean isOutOfMemory(int code) {
        return code == CL_MEM_OBJECT_ALLOCATION_FAILURE || code == CL_OUT_OF_RESOURCES
                || code == CL_OUT_OF_HOST_MEMORY;
    }

    private void ensureOpen(String op) {
        if (closed) {
            throw new IllegalStateException(op + ": expected an open backend, got the closed backend 'opencl' on "
                    + info.name());
        }
    }

    // ---------------------------------------------------------------- memory

    /**
     * A buffer of {@code bytes} with unspecified contents, counted in {@link #liveBytes()} until {@link #release}:
     * a released buffer of the same size if the pool holds one, else a new one. Reuse is safe without waiting
     * because the one in-order queue runs whatever the new owner enqueues after every command of the old owner.
     */
    synchronized cl_mem allocate(String op, long bytes) {
        ensureOpen(op);
        if (bytes > maxAllocBytes) {
            throw new BackendException(op + ": out of device memory: requested " + bytes + " bytes ("
                    + mib(bytes) + ") in one buffer, but " + info.name() + " allows at most " + maxAllocBytes
                    + " bytes (" + mib(maxAllocBytes) + ", CL_DEVICE_MAX_MEM_ALLOC_SIZE)");
        }
        ArrayDeque<cl_mem> free = pool.get(bytes);
        cl_mem m = free == null ? null : free.poll();
        if (m != null) {
            pooledBytes -= bytes;
        } else {
            m = create(op, bytes);
        }
        liveBytes.addAndGet(bytes);
        liveBuffers.incrementAndGet();
        return m;
    }

    /** clCreateBuffer; on an out-of-memory error, empties the pool and tries once more. */
    private cl_mem create(String op, long bytes) {
        CLException first = null;
        for (int attempt = 0; attempt < 2; attempt++) {
            try {
                return clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, null, null);
            } catch (CLException e) {
                int code = e.getStatus();
                if (!(isOutOfMemory(code) || code == CL_INVALID_BUFFER_SIZE)) {
                    throw error(op, e);
                }
                first = first == null ? e : first;
                if (pooledBytes == 0) {
                    break;
                }
                trimPool();
            }
        }
        throw new OutOfDeviceMemory(op + ": out of device memory: requested " + bytes + " bytes (" + mib(bytes)
                + ") on " + info.name() + " with " + liveBytes.get() + " bytes (" + mib(liveBytes.get())
                + ") already held by this backend (" + CL.stringFor_errorCode(first.getStatus()) + ")", first);
    }

    /** The device ran out of memory for a buffer (after the pool was emptied). */
    static final class OutOfDeviceMemory extends BackendException {
        private static final long serialVersionUID = 1L;

        OutOfDeviceMemory(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * {@link #allocate} for a tensor: on running out of device memory while tensors are live, asks the garbage
     * collector for tensors dropped without close() and, if it released any, tries once more. Called without this
     * context's lock (the releases take it).
     */
    cl_mem allocateReclaiming(String op, long bytes) {
        try {
            return allocate(op, bytes);
        } catch (OutOfDeviceMemory e) {
            if (tracker.liveCount() > 0 && tracker.reclaimUnreachable()) {
                return allocate(op, bytes);
            }
            throw e;
        }
    }

    /** Returns a buffer from {@link #allocate} to the pool, or releases it when the pool is full or closed. */
    synchronized void release(cl_mem m, long bytes) {
        liveBytes.addAndGet(-bytes);
        liveBuffers.decrementAndGet();
        if (!closed && pooledBytes + bytes <= poolCapBytes) {
            pool.computeIfAbsent(bytes, k -> new ArrayDeque<>()).push(m);
            pooledBytes += bytes;
            return;
        }
        try {
            clReleaseMemObject(m);
        } catch (CLException e) {
            throw error("tensor.close", e);
        }
    }

    /** Bytes of released buffers kept for reuse (at most a quarter of the device's memory, and 4 GiB). */
    public synchronized long pooledBytes() {
        return pooledBytes;
    }

    /** Releases every pooled buffer to the driver. */
    public synchronized void trimPool() {
        for (ArrayDeque<cl_mem> free : pool.values()) {
            for (cl_mem m : free) {
                clReleaseMemObject(m);
            }
        }
        pool.clear();
        pooledBytes = 0;
    }

    /** Uploads up to this size go through a staging copy and do not wait; larger ones block. */
    static final int STAGE_MAX_BYTES = 64 << 20;
    /** Staging memory in flight at most; beyond it an upload waits for the oldest one. */
    static final long STAGED_CAP_BYTES = 256L << 20;
    /** Free staging memory kept for reuse at most; beyond it finished staging buffers are left to the GC. */
    static final long STAGE_POOL_CAP_BYTES = 64L << 20;

    /**
     * Host → device copy of {@code data} into the start of {@code m}, without waiting for the device: the data is
     * copied into a direct staging buffer (so the caller owns its array again on return) and written by a
     * non-blocking clEnqueueWriteBuffer. A blocking write would wait for every kernel queued before it (the queue is
     * in order), i.e. for the previous training step, once per batch. Arrays above {@value #STAGE_MAX_BYTES} bytes
     * are written blocking.
     */
    synchronized void write(String op, cl_mem m, float[] data) {
        ensureOpen(op);
        long bytes = (long) data.length * Sizeof.cl_float;
        try {
            if (bytes == 0 || bytes > STAGE_MAX_BYTES) {
                clEnqueueWriteBuffer(queue, m, CL_TRUE, 0, bytes, Pointer.to(data), 0, null, null);
                recycleStages(true);
                return;
            }
            recycleStages(false);
            while (stagedBytes + bytes > STAGED_CAP_BYTES && !staged.isEmpty()) {
                clWaitForEvents(1, new cl_event[] {staged.peekFirst().done()});
                recycleStages(false);
            }
            ArrayDeque<ByteBuffer> free = stages.get((int) bytes);
            ByteBuffer stage = free == null ? null : free.poll();
            if (stage != null) {
                stagePoolBytes -= bytes;
            } else {
                stage = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
            }
            stage.clear();
            stage.asFloatBuffer().put(data);
            cl_event done = new cl_event();
            clEnqueueWriteBuffer(queue, m, CL_FALSE, 0, bytes, Pointer.to(stage), 0, null, done);
            staged.addLast(new Staged(stage, done));
            stagedBytes += bytes;
        } catch (CLException e) {
            throw error(op, e);
        }
    }

    /**
     * Returns the staging buffers of finished uploads to their pool, oldest first; {@code all} after the queue has
     * drained (a blocking read or write, clFinish), when every upload has finished.
     */
    private void recycleStages(boolean all) {
        int[] status = new int[1];
        while (!staged.isEmpty()) {
            Staged st = staged.peekFirst();
            if (!all) {
                clGetEventInfo(st.done(), CL_EVENT_COMMAND_EXECUTION_STATUS, Sizeof.cl_int, Pointer.to(status), null);
                if (status[0] != CL_COMPLETE) {
                    if (status[0] < 0) {
                        // a failed write: waiting reports its error
                        clWaitForEvents(1, new cl_event[] {st.done()});
                    }
                    return;
                }
            }
            staged.pollFirst();
            clReleaseEvent(st.done());
            int cap = st.stage().capacity();
            stagedBytes -= cap;
            if (stagePoolBytes + cap <= STAGE_POOL_CAP_BYTES) {
                stages.computeIfAbsent(cap, k -> new ArrayDeque<>()).push(st.stage());
                stagePoolBytes += cap;
            }
        }
    }

    /** Blocking device → host copy of {@code count} floats from element {@code from} of {@code m}. */
    synchronized float[] read(String op, cl_mem m, long from, int count) {
        ensureOpen(op);
        float[] out = new float[count];
        try {
            clEnqueueReadBuffer(queue, m, CL_TRUE, from * Sizeof.cl_float, (long) count * Sizeof.cl_float,
                    Pointer.to(out), 0, null, null);
            recycleStages(true);
        } catch (CLException e) {
            throw error(op, e);
        }
        return out;
    }

    /** Blocking read of {@code count} ints (the label check of softmax cross-entropy, read at sync points). */
    synchronized int[] readInts(String op, cl_mem m, int count) {
        ensureOpen(op);
        int[] out = new int[count];
        try {
            clEnqueueReadBuffer(queue, m, CL_TRUE, 0, (long) count * Sizeof.cl_int, Pointer.to(out), 0, null, null);
        } catch (CLException e) {
            throw error(op, e);
        }
        return out;
    }

    /** Blocking write of ints to the start of {@code m} (small flag buffers, outside the training step). */
    synchronized void writeInts(String op, cl_mem m, int... values) {
        ensureOpen(op);
        try {
            clEnqueueWriteBuffer(queue, m, CL_TRUE, 0, (long) values.length * Sizeof.cl_int, Pointer.to(values), 0,
                    null, null);
        } catch (CLException e) {
            throw error(op, e);
        }
    }

    /** Device-side copy of {@code bytes}, queued. */
    synchronized void copy(String op, cl_mem src, cl_mem dst, long bytes) {
        ensureOpen(op);
        try {
            clEnqueueCopyBuffer(queue, src, dst, 0, 0, bytes, 0, null, null);
        } catch (CLException e) {
            throw error(op, e);
        }
    }

    /** Waits for every queued command. */
    synchronized void finish(String op) {
        ensureOpen(op);
        try {
            clFinish(queue);
            recycleStages(true);
        } catch (CLException e) {
            throw error(op, e);
        }
    }

    // ---------------------------------------------------------------- programs and kernels

    /** The kernel {@code name} of {@code family}, building the family on first use. */
    synchronized cl_kernel kernel(String family, String name) {
        String key = family + "/" + name;
        cl_kernel k = kernels.get(key);
        if (k == null) {
            ensureOpen(family + "." + name);
            cl_program p = program(family);
            try {
                k = clCreateKernel(p, name, null);
            } catch (CLException e) {
                throw error(family + "." + name, e);
            }
            kernels.put(key, k);
        }
        return k;
    }

    /** The built program of {@code kernels/<family>.cl}, from the cache after the first call. */
    synchronized cl_program program(String family) {
        cl_program p = programs.get(family);
        if (p == null) {
            p = build(family, resource("common") + "\n" + resource(family));
            programs.put(family, p);
        }
        return p;
    }

    /**
     * Compiles {@code source} for this device with the backend's build options; a failure raises a
     * BackendException whose message carries the build log. Programs from here are not cached: {@link #program}
     * is the cached path.
     */
    public synchronized cl_program build(String label, String source) {
        String op = "opencl.build[" + label + "]";
        ensureOpen(op);
        cl_program p;
        try {
            p = clCreateProgramWithSource(context, 1, new String[] {source}, null, null);
        } catch (CLException e) {
            throw error(op, e);
        }
        try {
            clBuildProgram(p, 1, new cl_device_id[] {device}, buildOptions(), null, null);
            return p;
        } catch (CLException e) {
            String log = buildLog(p);
            try {
                clReleaseProgram(p);
            } catch (CLException ignored) {
                // the build error below is the one worth reporting
            }
            throw new BackendException(op + ": kernel build failed on " + info.name() + " ["
                    + info.platform() + "] (" + CL.stringFor_errorCode(e.getStatus()) + "); build log:\n" + log, e);
        }
    }

    /** Releases a program returned by {@link #build}. */
    public synchronized void releaseProgram(cl_program p) {
        clReleaseProgram(p);
    }

    private String buildOptions() {
        return "-cl-std=CL1.2 -D LK_FP64=" + (fp64 ? 1 : 0);
    }

    private String buildLog(cl_program p) {
        try {
            long[] size = new long[1];
            clGetProgramBuildInfo(p, device, CL_PROGRAM_BUILD_LOG, 0, null, size);
            byte[] buf = new byte[(int) size[0]];
            clGetProgramBuildInfo(p, device, CL_PROGRAM_BUILD_LOG, buf.length, Pointer.to(buf), null);
            int n = 0;
            while (n < buf.length && buf[n] != 0) {
                n++;
            }
            String log = new String(buf, 0, n, StandardCharsets.UTF_8).strip();
            return log.isEmpty() ? "(the driver gave no build log)" : log;
        } catch (CLException e) {
            return "(build log unavailable: " + CL.stringFor_errorCode(e.getStatus()) + ")";
        }
    }

    private static String resource(String family) {
        String path = "/kernels/" + family + ".cl";
        try (InputStream in = ClContext.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new BackendException("opencl: kernel source " + path + " is missing from the class path");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new BackendException("opencl: cannot read kernel source " + path, e);
        }
    }

    /** The largest work-group this kernel may be launched with on this device. */
    synchronized long kernelWorkGroupSize(String family, String name) {
        String key = family + "/" + name;
        Long cached = kernelGroups.get(key);
        if (cached == null) {
            cached = queryKernelWorkGroupSize(family, name);
            kernelGroups.put(key, cached);
        }
        return cached;
    }

    private long queryKernelWorkGroupSize(String family, String name) {
        cl_kernel k = kernel(family, name);
        try {
            long[] v = new long[1];
            if (Sizeof.size_t == 8) {
                clGetKernelWorkGroupInfo(k, device, CL_KERNEL_WORK_GROUP_SIZE, Sizeof.size_t, Pointer.to(v), null);
                return Math.min(v[0], maxWorkGroupSize);
            }
            int[] w = new int[1];
            clGetKernelWorkGroupInfo(k, device, CL_KERNEL_WORK_GROUP_SIZE, Sizeof.size_t, Pointer.to(w), null);
            return Math.min(w[0] & 0xFFFFFFFFL, maxWorkGroupSize);
        } catch (CLException e) {
            throw error(family + "." + name, e);
        }
    }

    /**
     * Work-items per reduction work-group for this kernel: the largest power of two within the kernel's limit
     * (CL_KERNEL_WORK_GROUP_SIZE, itself within CL_DEVICE_MAX_WORK_GROUP_SIZE) and {@link #preferredGroup()}.
     */
    int reductionGroup(String family, String name) {
        return ClLaunch.floorPow2(Math.min(preferredGroup, kernelWorkGroupSize(family, name)));
    }

    /**
     * Work-items that share one statistic's tree (LY): up to {@link #preferredGroup()} (256) on GPUs; on other
     * devices at most {@value #CPU_TREE_WIDTH}, because a CPU runs a work-group as loops on one core and each level of a tree is
     * another pass over the group (PoCL, layernorm statistics of [1024,1024]: 8.9 ms with 256, 2.1 ms with 32).
     */
    int treeWidth() {
        return info.gpu() ? preferredGroup : Math.min(preferredGroup, CPU_TREE_WIDTH);
    }

    /** Starts a launch of {@code family.kernel} on behalf of {@code op}. */
    ClLaunch launch(String op, String family, String kernel) {
        return new ClLaunch(this, op, family, kernel);
    }

    cl_command_queue queue() {
        return queue;
    }

    void checkOpen(String op) {
        ensureOpen(op);
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return closed;
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
    }

    /**
     * Releases the buffer of every tensor still open (they refuse use from now on), then the pool, kernels, programs,
     * the queue and the context. Idempotent.
     */
    @Override
    public void close() {
        // first the tensors' buffers, without this context's lock: a release on the cleaner's thread may be waiting
        // for it, and closeAll waits for that release
        tracker.closeAll();
        synchronized (this) {
            closeContext();
        }
    }

    private void closeContext() {
        if (closed) {
            return;
        }
        try {
            clFinish(queue);
        } catch (CLException ignored) {
            // closing anyway
        }
        for (Staged st : staged) {
            clReleaseEvent(st.done());
        }
        staged.clear();
        stages.clear();
        stagePoolBytes = 0;
        trimPool();
        closed = true;
        for (cl_kernel k : kernels.values()) {
            clReleaseKernel(k);
        }
        kernels.clear();
        kernelGroups.clear();
        for (cl_program p : programs.values()) {
            clReleaseProgram(p);
        }
        programs.clear();
        clReleaseCommandQueue(queue);
        clReleaseContext(context);
    }
}
