package org.layerkit.models.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class ConsoleListenerTest {
    private static String epochLine(double valAccuracy) {
        StringWriter s = new StringWriter();
        ConsoleListener l = new ConsoleListener(new PrintWriter(s), 0);
        l.onStart(SolverConfig.builder().epochs(3).batchSize(10).build(), 5);
        l.onEpoch(new EpochEvent(1, 3, 0.5, valAccuracy, 1.25, 2.0, 1e-3, false));
        return s.toString().strip();
    }

    @Test
    void anEpochWithValidationPrintsItsAccuracy() {
        assertEquals("(Epoch 1 / 3) train acc: 0.5000; val_acc: 0.7500; loss: 1.2500; lr: 0.00100; 2.0 s",
                epochLine(0.75));
    }

    @Test
    void anEpochWithoutAValidationSplitSaysSoInsteadOfPrintingNaN() {
        assertEquals("(Epoch 1 / 3) train acc: 0.5000; val_acc: none (no validation split); loss: 1.2500; "
                + "lr: 0.00100; 2.0 s", epochLine(Double.NaN));
    }
}
