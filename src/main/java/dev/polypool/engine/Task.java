package dev.polypool.engine;

/**
 * One unit of work for a worker: a function applied to a payload, both already encoded by
 * the submitting context so that no guest object crosses from one context into another.
 *
 * @param jobId    identifies the submitter's job; echoed in the {@link Outcome}
 * @param index    position of this task within its job (a chunk number for {@code map})
 * @param kind     how the worker applies {@code function} to the payload: one of the task
 *                 kinds of {@link Protocol}
 * @param function a {@code "module:qualname"} reference the worker resolves and caches, or
 *                 {@code null} when the function travels inside the payload
 * @param plain    whether {@code payload} is a plain value ({@code null}, {@link Boolean},
 *                 {@link Integer}, {@link Long}, {@link java.math.BigInteger}, {@link Double}
 *                 or {@link String}) handed to Python as it is, rather than pickled text
 * @param payload  the arguments: plain, or pickled (see {@code polypool/codec.py})
 */
public record Task(long jobId, int index, int kind, String function, boolean plain, Object payload) {
}
