package org.layerkit.cli;

import java.io.PrintWriter;
import java.util.List;
import org.layerkit.api.Availability;
import org.layerkit.api.BackendProvider;
import org.layerkit.api.Backends;
import org.layerkit.api.DeviceInfo;
import picocli.CommandLine.Command;

/**
 * {@code layerkit backends}: every installed provider, highest priority first, whether it is available (and if not,
 * why), its devices, and which one automatic selection would pick. Creates no backend.
 */
@Command(name = "backends", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "List the installed backends, their devices, and which one --backend=auto picks.")
public final class BackendsCommand extends CommandBase {

    @Override
    protected int execute() {
        PrintWriter out = out();
        List<BackendProvider> providers = Backends.providers();
        if (providers.isEmpty()) {
            throw new CliException("no backend is installed: put layerkit-cpu-backend (or another module that "
                    + "registers org.layerkit.api.BackendProvider) on the class path");
        }
        out.println("Installed backends (highest priority first):");
        String auto = null;
        for (BackendProvider p : providers) {
            Availability a = availability(p);
            out.printf("  %-10s priority %4d  %s%n", p.name(), p.priority(),
                    a.isAvailable() ? "available" : "UNAVAILABLE: " + a.describe());
            if (a.isAvailable()) {
                if (auto == null) {
                    auto = p.name();
                }
                List<DeviceInfo> devices = devices(p, out);
                for (DeviceInfo d : devices) {
                    out.println("      " + d.describe());
                }
            }
        }
        out.println(autoLine(auto));
        return 0;
    }

    private static Availability availability(BackendProvider p) {
        try {
            return p.availability();
        } catch (RuntimeException | LinkageError e) {
            return Availability.unavailable("availability check failed", e);
        }
    }

    private List<DeviceInfo> devices(BackendProvider p, PrintWriter out) {
        try {
            return p.devices();
        } catch (RuntimeException | LinkageError e) {
            out.println("      (could not list devices: " + CommandBase.message(e) + ")");
            if (verbose()) {
                e.printStackTrace(out);
            }
            return List.of();
        }
    }

    private static String autoLine(String best) {
        String requested = System.getProperty(Backends.PROPERTY);
        String source = "-D" + Backends.PROPERTY;
        if (requested == null || requested.isBlank()) {
            requested = System.getenv(Backends.ENV);
            source = Backends.ENV;
        }
        if (requested != null && !requested.isBlank() && !requested.trim().equalsIgnoreCase(BackendMixin.AUTO)) {
            return "--backend=auto uses: " + requested.trim() + " (requested by " + source + ")";
        }
        return best == null
                ? "--backend=auto uses: nothing, no backend is available"
                : "--backend=auto uses: " + best + " (the highest-priority available backend)";
    }
}
