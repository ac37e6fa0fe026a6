package dev.polypool;

import java.time.Duration;
import java.util.Map;

/**
 * What a {@link PythonPool} did so far, as {@link PythonPool#stats()} read it. The same
 * figures are the attributes of the pool's MBean, {@code dev.polypool:type=PythonPool,name=<name>}
 * in the platform MBean server. Read while calls run, the figures are of slightly different
 * moments.
 *
 * @param name               the pool's name ({@link PythonPool.Builder#name(String)})
 * @param workers            the number of workers the pool keeps
 * @param tasksSubmitted     calls submitted
 * @param tasksDone          calls that returned
 * @param tasksFailed        calls whose function raised
 * @param tasksLost          calls lost with their worker, or failed by a broken pool
 * @param queued             calls waiting for a worker now
 * @param queueWait          time calls waited for a worker, summed over calls
 * @param working            time workers ran calls, summed over workers
 * @param decoding           time workers converted results to Java values
 * @param encoding           time spent converting arguments to Python values
 * @param workerReplacements workers replaced (task limit, a stopped call, a dead context)
 * @param tasksPerWorker     calls run, by worker name
 * @param summary            these figures as the few lines {@code POLYPOOL_STATS=1} prints
 */
public record PoolStatistics(String name, int workers, long tasksSubmitted, long tasksDone, long tasksFailed,
                             long tasksLost, int queued, Duration queueWait, Duration working, Duration decoding,
                             Duration encoding, long workerReplacements, Map<String, Long> tasksPerWorker,
                             String summary) {
    public PoolStatistics {
        tasksPerWorker = Map.copyOf(tasksPerWorker);
    }
}
