package dev.polypool.engine;

/**
 * What became of one {@link Task}: its encoded result, or its encoded exception.
 *
 * @param jobId   the task's job
 * @param index   the task's index within its job
 * @param status  {@link Protocol#OK} (the result), {@link Protocol#PLAIN} (the result
 *                itself, a plain value), {@link Protocol#RAISED} (the exception) or
 *                {@link Protocol#LOST} (the worker died or the pool is broken; the payload says how)
 * @param payload the result or exception: pickled, for the submitting context to decode, or
 *                already Java values (see {@link Driver#decode})
 */
public record Outcome(long jobId, int index, int status, Object payload) {
}
