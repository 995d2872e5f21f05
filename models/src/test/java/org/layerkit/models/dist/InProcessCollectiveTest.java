package org.layerkit.models.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.layerkit.api.Collective;
import org.layerkit.api.CollectiveException;
import org.layerkit.api.InProcessCollective;

/** The in-process Collective: rank-order results, derived all-reduce, and clear errors instead of hangs. */
class InProcessCollectiveTest {
    private static <T> CompletableFuture<T> async(java.util.function.Supplier<T> s) {
        return CompletableFuture.supplyAsync(s);
    }

    @Test
    void allGatherReturnsEveryRanksDataInRankOrderAndAllReduceAddsInRankOrder() throws Exception {
        List<Collective> g = InProcessCollective.group(3);
        List<CompletableFuture<double[][]>> gathered = g.stream()
                .map(c -> async(() -> c.allGather(new double[] {c.rank(), 10 * c.rank()}))).toList();
        for (CompletableFuture<double[][]> f : gathered) {
            assertArrayEquals(new double[][] {{0, 0}, {1, 10}, {2, 20}}, f.get(30, TimeUnit.SECONDS));
        }
        // 1e16 + 1 + (−1e16) in rank order is 0 on every rank (another order gives 1)
        double[] in = {1e16, 1, -1e16};
        List<CompletableFuture<double[]>> sums = g.stream()
                .map(c -> async(() -> c.allReduceSum(new double[] {in[c.rank()]}))).toList();
        for (CompletableFuture<double[]> f : sums) {
            assertArrayEquals(new double[] {(1e16 + 1) + -1e16}, f.get(30, TimeUnit.SECONDS));
        }
    }

    @Test
    void mismatchedCallsFailEveryRankWithBothCallsNamed() {
        List<Collective> g = InProcessCollective.group(2);
        CompletableFuture<double[][]> a = async(() -> g.get(0).allGather(new double[] {1}));
        CompletableFuture<Void> b = CompletableFuture.runAsync(() -> g.get(1).barrier());
        for (CompletableFuture<?> f : List.of(a, b)) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
            assertInstanceOf(CollectiveException.class, e.getCause());
        }
        String m = assertThrows(ExecutionException.class, () -> a.get()).getCause().getMessage()
                + assertThrows(ExecutionException.class, () -> b.get()).getCause().getMessage();
        assertTrue(m.contains("rank 0 allGather(1 doubles)") && m.contains("rank 1 barrier"), m);
        // the group stays broken
        assertThrows(CollectiveException.class, () -> g.get(0).barrier());
    }

    @Test
    void aRankThatNeverArrivesTimesOutNamingIt() {
        List<Collective> g = InProcessCollective.group(2, Duration.ofMillis(200));
        CollectiveException e = assertThrows(CollectiveException.class, () -> g.get(0).allGather(new double[] {1}));
        assertTrue(e.getMessage().contains("rank(s) [1] that never arrived"), e.getMessage());
    }

    @Test
    void anAbortOnOneRankFailsTheOthersAtOnce() throws Exception {
        List<Collective> g = InProcessCollective.group(2);
        CompletableFuture<double[][]> waiting = async(() -> g.get(0).allGather(new double[] {1}));
        g.get(1).abort(new IllegalStateException("boom on rank 1"));
        ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(30, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("rank 1 failed") && e.getCause().getMessage().contains("boom"),
                e.getCause().getMessage());
    }
}
