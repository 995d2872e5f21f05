package org.layerkit.cli.testing;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.List;
import org.layerkit.api.Availability;
import org.layerkit.api.Backend;
import org.layerkit.api.BackendOptions;
import org.layerkit.api.BackendProvider;
import org.layerkit.api.Backends;
import org.layerkit.api.DeviceInfo;
import org.layerkit.api.Tensor;

/**
 * The CPU backend with one planted bug, ReLU forward returns its input unchanged, so that tests can watch
 * {@code layerkit conformance} report FAILED cases and exit 1. Lowest priority: auto-selection never picks it.
 */
public final class BrokenReluBackendProvider implements BackendProvider {
    public static final String NAME = "broken-relu-test";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int priority() {
        return 1;
    }

    @Override
    public Availability availability() {
        return Availability.available();
    }

    @Override
    public List<DeviceInfo> devices() {
        return Backends.provider("cpu", getClass().getClassLoader()).devices();
    }

    @Override
    public Backend create(BackendOptions options) {
        Backend cpu = Backends.get("cpu", options);
        InvocationHandler h = (proxy, method, args) -> {
            if (method.getName().equals("name") && method.getParameterCount() == 0) {
                return NAME;
            }
            if (method.getName().equals("relu") && method.getParameterCount() == 1) {
                return cpu.copyOf((Tensor) args[0]); // the planted bug: negatives survive
            }
            try {
                return method.invoke(cpu, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        };
        return (Backend) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Backend.class}, h);
    }
}
