package org.layerkit.api;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * Finds {@link BackendProvider}s with {@link ServiceLoader} and creates backends.
 *
 * <ul>
 *   <li>{@link #get(String)} — an explicit request: fails loudly if that backend is unavailable, never falls back.
 *   <li>{@link #select()} — the system property {@code layerkit.backend}, else the environment variable
 *       {@code LAYERKIT_BACKEND}, else the highest-priority available provider (logged). The name {@code auto}
 *       means automatic choice.
 * </ul>
 * Overloads take a {@link ClassLoader}, for plugin hosts whose context loader does not see the providers.
 */
public final class Backends {
    public static final String PROPERTY = "layerkit.backend";
    public static final String ENV = "LAYERKIT_BACKEND";
    private static final System.Logger LOG = System.getLogger(Backends.class.getName());

    private Backends() {
    }

    /** Every installed provider, highest priority first (available or not). */
    public static List<BackendProvider> providers() {
        return providers(defaultLoader());
    }

    public static List<BackendProvider> providers(ClassLoader loader) {
        List<BackendProvider> list = new ArrayList<>();
        ServiceLoader<BackendProvider> sl = ServiceLoader.load(BackendProvider.class, loader);
        var it = sl.iterator();
        while (true) {
            try {
                if (!it.hasNext()) {
                    break;
                }
                list.add(it.next());
            } catch (ServiceConfigurationError e) {
                LOG.log(System.Logger.Level.WARNING, "skipping a backend provider that failed to load: " + e.getMessage());
            }
        }
        list.sort(Comparator.comparingInt(BackendProvider::priority).reversed()
                .thenComparing(BackendProvider::name));
        return list;
    }

    /** The provider called {@code name}, or an exception listing what is installed. */
    public static BackendProvider provider(String name, ClassLoader loader) {
        List<BackendProvider> all = providers(loader);
        String wanted = name.trim().toLowerCase(Locale.ROOT);
        for (BackendProvider p : all) {
            if (p.name().equals(wanted)) {
                return p;
            }
        }
        throw new BackendUnavailableException("unknown backend '" + name + "'; installed: " + describe(all), null);
    }

    public static Backend get(String name) {
        return get(name, BackendOptions.none(), defaultLoader());
    }

    public static Backend get(String name, BackendOptions options) {
        return get(name, options, defaultLoader());
    }

    /** Creates the named backend or throws {@link BackendUnavailableException} with the reason; no fallback. */
    public static Backend get(String name, BackendOptions options, ClassLoader loader) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("Backends.get: expected a backend name such as 'cpu' or 'opencl', got "
                    + (name == null ? "null" : "a blank name"));
        }
        if (name.trim().equalsIgnoreCase("auto")) {
            return select(options, loader);
        }
        BackendProvider p = provider(name, loader);
        Availability a = p.availability();
        if (!a.isAvailable()) {
            throw new BackendUnavailableException("backend '" + p.name() + "' was requested but is unavailable: "
                    + a.describe(), a.cause());
        }
        return p.create(options);
    }

    public static Backend select() {
        return select(BackendOptions.none(), defaultLoader());
    }

    public static Backend select(BackendOptions options) {
        return select(options, defaultLoader());
    }

    /**
     * The backend named by {@code -Dlayerkit.backend} or {@code LAYERKIT_BACKEND} (an explicit request: it must be
     * available), else the highest-priority available one.
     */
    public static Backend select(BackendOptions options, ClassLoader loader) {
        String requested = System.getProperty(PROPERTY);
        String source = "system property " + PROPERTY;
        if (requested == null || requested.isBlank()) {
            requested = System.getenv(ENV);
            source = "environment variable " + ENV;
        }
        if (requested != null && !requested.isBlank() && !requested.trim().equalsIgnoreCase("auto")) {
            LOG.log(System.Logger.Level.INFO, "backend '" + requested.trim() + "' requested by " + source);
            return get(requested, options, loader);
        }
        List<BackendProvider> all = providers(loader);
        for (BackendProvider p : all) {
            if (p.availability().isAvailable()) {
                Backend b = p.create(options);
                LOG.log(System.Logger.Level.INFO, "selected backend '" + p.name() + "' on " + b.device().name()
                        + " (highest priority available of: " + describe(all) + ")");
                return b;
            }
        }
        throw new BackendUnavailableException("no backend is available; installed: " + describe(all)
                + (all.isEmpty() ? " (add layerkit-cpu-backend to the class path)" : ""), null);
    }

    /** {@code cpu (available), opencl (unavailable: reason)}, or {@code none} when nothing is installed. */
    public static String describe(List<BackendProvider> providers) {
        if (providers.isEmpty()) {
            return "none";
        }
        StringBuilder b = new StringBuilder();
        for (BackendProvider p : providers) {
            if (b.length() > 0) {
                b.append(", ");
            }
            Availability a;
            try {
                a = p.availability();
            } catch (RuntimeException | LinkageError e) {
                a = Availability.unavailable("availability check failed", e);
            }
            b.append(p.name()).append(a.isAvailable() ? " (available)" : " (unavailable: " + a.describe() + ")");
        }
        return b.toString();
    }

    private static ClassLoader defaultLoader() {
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        return cl != null ? cl : Backends.class.getClassLoader();
    }
}
