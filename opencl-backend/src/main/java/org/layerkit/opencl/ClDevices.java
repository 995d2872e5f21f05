package org.layerkit.opencl;

import static org.jocl.CL.CL_DEVICE_AVAILABLE;
import static org.jocl.CL.CL_DEVICE_GLOBAL_MEM_SIZE;
import static org.jocl.CL.CL_DEVICE_MAX_COMPUTE_UNITS;
import static org.jocl.CL.CL_DEVICE_NAME;
import static org.jocl.CL.CL_DEVICE_NOT_FOUND;
import static org.jocl.CL.CL_DEVICE_TYPE;
import static org.jocl.CL.CL_DEVICE_TYPE_ALL;
import static org.jocl.CL.CL_DEVICE_TYPE_GPU;
import static org.jocl.CL.CL_DEVICE_VENDOR;
import static org.jocl.CL.CL_PLATFORM_NAME;
import static org.jocl.CL.clGetDeviceIDs;
import static org.jocl.CL.clGetDeviceInfo;
import static org.jocl.CL.clGetPlatformIDs;
import static org.jocl.CL.clGetPlatformInfo;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

import org.jocl.CL;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;
import org.layerkit.api.DeviceInfo;

/**
 * Enumerates OpenCL devices over all platforms into one flat index, and turns the ways that can fail (no
 * libOpenCL.so, no ICD, no device) into reasons that say what to install.
 */
final class ClDevices {
    /** The ICD loader reports this when it finds no platform (cl_khr_icd). */
    static final int CL_PLATFORM_NOT_FOUND_KHR = -1001;
    static final String NO_LIBRARY = "libOpenCL.so not found: install ocl-icd-opencl-dev and an ICD such as "
            + "pocl-opencl-icd (CPUs) or the NVIDIA driver (GPUs)";
    static final String NO_PLATFORM = "no OpenCL platform: install an ICD (pocl-opencl-icd for CPUs, the NVIDIA "
            + "driver for GPUs; it registers itself in /etc/OpenCL/vendors/*.icd)";
    static final String NO_DEVICE = "OpenCL platforms found but no usable device: check the driver (clinfo lists "
            + "what the ICD loader sees)";

    /** One device with the handles needed to open a context on it. */
    record Entry(cl_platform_id platform, cl_device_id device, DeviceInfo info) {
    }

    /** The outcome of a probe: the devices, or why there are none. */
    record Probe(List<Entry> devices, String reason, Throwable cause) {
        boolean ok() {
            return reason == null;
        }
    }

    private ClDevices() {
    }

    /** The process's probe, made on first use. */
    private static Probe probed;

    /**
     * Lists every available device of every platform, once per process (an ICD's platforms and devices do not
     * change while it runs); never throws. Synchronized: two threads' first OpenCL calls at once — two Spark tasks
     * or replica threads opening their backends together — were seen to make one of them find the platforms but no
     * device, while the other found them all (the ICD loader and PoCL set themselves up on the first call).
     */
    static synchronized Probe probe() {
        if (probed == null) {
            probed = enumerateOnce();
        }
        return probed;
    }

    private static Probe enumerateOnce() {
        try {
            CL.setExceptionsEnabled(true);
            List<Entry> list = enumerate();
            if (list.isEmpty()) {
                return new Probe(List.of(), NO_DEVICE, null);
            }
            return new Probe(List.copyOf(list), null, null);
        } catch (CLException e) {
            if (e.getStatus() == CL_PLATFORM_NOT_FOUND_KHR) {
                return new Probe(List.of(), NO_PLATFORM, e);
            }
            return new Probe(List.of(), "OpenCL device query failed (" + CL.stringFor_errorCode(e.getStatus())
                    + "): check the driver with clinfo", e);
        } catch (LinkageError e) {
            return new Probe(List.of(), reasonFor(e), e);
        } catch (RuntimeException e) {
            return new Probe(List.of(), "OpenCL device query failed: " + e, e);
        }
    }

    /** The reason for a failure to load JOCL's native part or libOpenCL.so. */
    static String reasonFor(LinkageError e) {
        String m = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
        if (e instanceof UnsatisfiedLinkError && m.contains("jocl") && !m.contains("opencl library")) {
            return "JOCL's native library could not be loaded on " + System.getProperty("os.name") + "/"
                    + System.getProperty("os.arch") + " (JOCL 2.0.5 bundles it for Linux, macOS and Windows on x86-64)";
        }
        return NO_LIBRARY;
    }

    private static List<Entry> enumerate() {
        int[] count = new int[1];
        clGetPlatformIDs(0, null, count);
        if (count[0] == 0) {
            throw new CLException("no platform", CL_PLATFORM_NOT_FOUND_KHR);
        }
        cl_platform_id[] platforms = new cl_platform_id[count[0]];
        clGetPlatformIDs(platforms.length, platforms, null);
        List<Entry> out = new ArrayList<>();
        for (cl_platform_id p : platforms) {
            String platformName = platformString(p, CL_PLATFORM_NAME);
            int[] n = new int[1];
            try {
                clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, null, n);
            } catch (CLException e) {
                if (e.getStatus() == CL_DEVICE_NOT_FOUND) {
                    continue;
                }
                throw e;
            }
            cl_device_id[] ds = new cl_device_id[n[0]];
            clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, ds.length, ds, null);
            for (cl_device_id d : ds) {
                if (deviceInt(d, CL_DEVICE_AVAILABLE) == 0) {
                    continue;
                }
                boolean gpu = (deviceLong(d, CL_DEVICE_TYPE) & CL_DEVICE_TYPE_GPU) != 0;
                DeviceInfo info = new DeviceInfo(out.size(), platformName, deviceString(d, CL_DEVICE_VENDOR),
                        deviceString(d, CL_DEVICE_NAME), deviceLong(d, CL_DEVICE_GLOBAL_MEM_SIZE),
                        deviceInt(d, CL_DEVICE_MAX_COMPUTE_UNITS), gpu);
                out.add(new Entry(p, d, info));
            }
        }
        return out;
    }

    /** The first GPU, else the first device. */
    static Entry defaultDevice(List<Entry> devices) {
        for (Entry e : devices) {
            if (e.info().gpu()) {
                return e;
            }
        }
        return devices.get(0);
    }

    /**
     * The device chosen by {@code choice}: an index into the flat list, or a case-insensitive substring of the
     * device name, vendor or platform (the first match); empty means the default.
     */
    static Entry choose(List<Entry> devices, Optional<String> choice) {
        if (choice.isEmpty()) {
            return defaultDevice(devices);
        }
        String c = choice.get().trim();
        int gemm = c.indexOf(" (gemm=");
        if (gemm > 0) {
            c = c.substring(0, gemm); // a whole name as listed by the provider, which appends the GEMM in use
        }
        if (c.matches("\\d+")) {
            int i = Integer.parseInt(c);
            if (i < devices.size()) {
                return devices.get(i);
            }
            throw new IllegalArgumentException("opencl: device expected an index in 0.." + (devices.size() - 1)
                    + " or a name substring, got " + c + "; devices: " + list(devices) + poclHint(devices));
        }
        String lc = c.toLowerCase(Locale.ROOT);
        for (Entry e : devices) {
            DeviceInfo d = e.info();
            String hay = (d.name() + " " + d.vendor() + " " + d.platform()).toLowerCase(Locale.ROOT);
            if (hay.contains(lc)) {
                return e;
            }
        }
        throw new IllegalArgumentException("opencl: device expected an index or a substring of a device name, "
                + "got '" + c + "'; devices: " + list(devices));
    }

    /** Where PoCL is among the platforms: how to get more of its CPU devices (for data-parallel replicas). */
    private static String poclHint(List<Entry> devices) {
        for (Entry e : devices) {
            if (e.info().platform().contains("Portable Computing Language")) {
                return " (PoCL gives more CPU devices with POCL_DEVICES in the environment, e.g. POCL_DEVICES=\"pthread "
                        + "pthread\" for two)";
            }
        }
        return "";
    }

    static String list(List<Entry> devices) {
        StringBuilder b = new StringBuilder();
        for (Entry e : devices) {
            b.append(b.length() == 0 ? "" : "; ").append(e.info().describe());
        }
        return b.toString();
    }

    // ---------------------------------------------------------------- info queries

    static String platformString(cl_platform_id p, int param) {
        long[] size = new long[1];
        clGetPlatformInfo(p, param, 0, null, size);
        byte[] buf = new byte[(int) size[0]];
        clGetPlatformInfo(p, param, buf.length, Pointer.to(buf), null);
        return cString(buf);
    }

    static String deviceString(cl_device_id d, int param) {
        long[] size = new long[1];
        clGetDeviceInfo(d, param, 0, null, size);
        byte[] buf = new byte[(int) size[0]];
        clGetDeviceInfo(d, param, buf.length, Pointer.to(buf), null);
        return cString(buf);
    }

    static long deviceLong(cl_device_id d, int param) {
        long[] v = new long[1];
        clGetDeviceInfo(d, param, Sizeof.cl_ulong, Pointer.to(v), null);
        return v[0];
    }

    static int deviceInt(cl_device_id d, int param) {
        int[] v = new int[1];
        clGetDeviceInfo(d, param, Sizeof.cl_uint, Pointer.to(v), null);
        return v[0];
    }

    /** size_t-valued queries (work-group sizes), whatever the host's pointer width. */
    static long deviceSize(cl_device_id d, int param) {
        if (Sizeof.size_t == 8) {
            return deviceLong(d, param);
        }
        return deviceInt(d, param) & 0xFFFFFFFFL;
    }

    /** The three entries of CL_DEVICE_MAX_WORK_ITEM_SIZES (work-items per work-group along x, y, z). */
    static long[] maxWorkItemSizes(cl_device_id d) {
        long[] out = new long[3];
        if (Sizeof.size_t == 8) {
            clGetDeviceInfo(d, CL.CL_DEVICE_MAX_WORK_ITEM_SIZES, 3L * Sizeof.size_t, Pointer.to(out), null);
        } else {
            int[] v = new int[3];
            clGetDeviceInfo(d, CL.CL_DEVICE_MAX_WORK_ITEM_SIZES, 3L * Sizeof.size_t, Pointer.to(v), null);
            for (int i = 0; i < 3; i++) {
                out[i] = v[i] & 0xFFFFFFFFL;
            }
        }
        return out;
    }

    private static String cString(byte[] buf) {
        int n = 0;
        while (n < buf.length && buf[n] != 0) {
            n++;
        }
        return new String(buf, 0, n, StandardCharsets.UTF_8).trim();
    }
}
