package dev.polypool.engine;

/**
 * What became of one {@link Task}: its encoded result, or its encoded exception.
 *
 * @param jobId   the task's job
 * @param index   the task's index within its job
 * @param success whether {@code payload} holds a result (true) or an exception (false)
 * @param payload the encoded result or exception, decoded by the submitting context
 */
public record Outcome(long jobId, int index, boolean success, Object payload) {
}
