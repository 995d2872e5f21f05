package org.layerkit.models.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.layerkit.api.Backend;
import org.layerkit.api.Shape;
import org.layerkit.api.Tensor;
import org.layerkit.models.checkpoint.HostTensor;

/**
 * Reads a loss from the device together with the finiteness of watched tensors (the net's batch-norm running
 * statistics), in the one host read the {@link Solver} makes anyway.
 *
 * <p>On the device: {@code acc = loss + Σ_t sumOfSquares(0·t)}. Every term is exactly 0 when t is finite (0·x = 0,
 * and 0 added to the loss leaves its bits unchanged) and NaN when t holds a NaN or ±∞ (0·NaN = 0·∞ = NaN), so the
 * value read is the loss itself while every watched tensor is finite, and NaN as soon as one is not. Only then are
 * the loss and the tensors read separately ({@link #firstNonFinite()}) to say which one failed. A read therefore
 * costs four small kernels per watched tensor and no extra host synchronisation.
 */
final class LossReader implements AutoCloseable {
    private final Backend backend;
    private final Map<String, Tensor> watched;
    private final List<Tensor> scratch = new ArrayList<>();
    private final Tensor acc;

    /** {@code watched}: live tensors by name, read at each {@link #read}. */
    LossReader(Backend backend, Map<String, Tensor> watched) {
        this.backend = backend;
        this.watched = new LinkedHashMap<>(watched);
        Tensor a = backend.zeros(Shape.of(1));
        try {
            for (Tensor t : this.watched.values()) {
                scratch.add(backend.zeros(t.shape()));
            }
        } catch (RuntimeException e) {
            a.close();
            scratch.forEach(Tensor::close);
            throw e;
        }
        this.acc = a;
    }

    /** The value of the one-element {@code loss}, or NaN when it or any watched tensor is not finite. */
    double read(Tensor loss) {
        backend.copy(loss, acc);
        int i = 0;
        for (Tensor t : watched.values()) {
            Tensor z = scratch.get(i++);
            backend.copy(t, z);
            backend.scale(z, 0f);
            try (Tensor ss = backend.sumOfSquares(z)) {
                backend.axpy(1f, ss, acc);
            }
        }
        return acc.item();
    }

    /** The first watched tensor holding a NaN or ±∞ ({@code "running_var2 holds Infinity at index …"}), or null. */
    String firstNonFinite() {
        for (Map.Entry<String, Tensor> e : watched.entrySet()) {
            String where = new HostTensor(e.getValue().shape(), e.getValue().toArray()).describeFirstNonFinite();
            if (where != null) {
                return e.getKey() + " holds " + where;
            }
        }
        return null;
    }

    @Override
    public void close() {
        acc.close();
        scratch.forEach(Tensor::close);
    }
}
