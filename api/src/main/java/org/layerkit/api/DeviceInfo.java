package org.layerkit.api;

/**
 * A compute device as a backend sees it.
 *
 * @param index        position in the backend's device list (what {@code --device=N} picks)
 * @param platform     e.g. "NVIDIA CUDA", "Portable Computing Language", or "JVM" for the CPU backend
 * @param vendor       e.g. "NVIDIA Corporation"
 * @param name         e.g. "NVIDIA H100 80GB HBM3"
 * @param memoryBytes  global memory (or max heap for the CPU backend)
 * @param computeUnits compute units (cores for the CPU backend)
 * @param gpu          whether the device is a GPU
 */
public record DeviceInfo(int index, String platform, String vendor, String name, long memoryBytes,
                         int computeUnits, boolean gpu) {
    /** One line: {@code #0 NVIDIA H100 (NVIDIA CUDA, NVIDIA Corporation), GPU, 132 CUs, 79.1 GiB}. */
    public String describe() {
        return String.format(java.util.Locale.ROOT, "#%d %s (%s, %s), %s, %d compute units, %.1f GiB",
                index, name, platform, vendor, gpu ? "GPU" : "CPU", computeUnits,
                memoryBytes / (1024.0 * 1024 * 1024));
    }
}
