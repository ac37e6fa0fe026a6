package dev.polypool.engine;

/**
 * What became of one {@link Task}: its encoded result, or its encoded exception.
 *
 * @param jobId   the task's job
 * @param index   the task's index within its job
 * @param status  {@link WorkerPool#OK} (pickled result), {@link WorkerPool#PLAIN} (the result
 *                itself, a plain value), {@link WorkerPool#RAISED} (pickled exception) or
 *                {@link WorkerPool#LOST} (the worker died; the payload says how)
 * @param payload the result or exception, decoded by the submitting context
 */
public record Outcome(long jobId, int index, int status, Object payload) {
}
