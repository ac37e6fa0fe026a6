package dev.polypool.engine;

/**
 * What became of one {@link Task}: its encoded result, or its encoded exception.
 *
 * @param jobId   the task's job
 * @param index   the task's index within its job
 * @param status  {@link Protocol#OK} (pickled result), {@link Protocol#PLAIN} (the result
 *                itself, a plain value), {@link Protocol#RAISED} (pickled exception) or
 *                {@link Protocol#LOST} (the worker died or the pool is broken; the payload says how)
 * @param payload the result or exception, decoded by the submitting context
 */
public record Outcome(long jobId, int index, int status, Object payload) {
}
