package org.layerkit.api;

import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** Finds {@link LayerFactory} services by type name and creates layers. */
public final class Layers {
    private Layers() {
    }

    /** Every registered factory by type name. */
    public static Map<String, LayerFactory> factories(ClassLoader loader) {
        Map<String, LayerFactory> m = new TreeMap<>();
        for (LayerFactory f : ServiceLoader.load(LayerFactory.class, loader)) {
            m.putIfAbsent(f.type(), f);
        }
        return m;
    }

    public static Map<String, LayerFactory> factories() {
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        return factories(cl != null ? cl : Layers.class.getClassLoader());
    }

    /** Creates a layer of the registered {@code type}; an unknown type lists the registered ones. */
    public static Layer create(String type, Backend backend, LayerConfig config) {
        Map<String, LayerFactory> all = factories();
        LayerFactory f = all.get(type);
        if (f == null) {
            throw new IllegalArgumentException("unknown layer type '" + type + "'; registered: " + all.keySet());
        }
        return f.create(backend, config);
    }
}
