package dev.polypool;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A handle on a Python function, named {@code "module:qualname"} as in
 * {@code "math:factorial"} or {@code "mypackage.tools:Parser.parse"}, together with the Java
 * type of its results and an optional time limit for each call.
 *
 * <p>A handle is immutable and not bound to a pool: obtain it once with {@link #of(String)}
 * and reuse it with any {@link PythonPool}, from any thread. Each worker imports the module
 * and looks the function up on its first call and keeps it, so an unknown name surfaces as a
 * {@link PythonException} ({@code ModuleNotFoundError}, {@code AttributeError}) of the call.
 *
 * @param <R> the Java type of the function's results
 */
public final class PythonFunction<R> {
    private static final Pattern NAME = Pattern.compile(
            "[\\p{L}_][\\p{L}\\p{N}_]*(\\.[\\p{L}_][\\p{L}\\p{N}_]*)*:[\\p{L}_][\\p{L}\\p{N}_]*(\\.[\\p{L}_][\\p{L}\\p{N}_]*)*");

    private final String name;
    private final Class<R> resultType;
    private final Duration timeout;
    private final Map<String, Object> keywords;

    private PythonFunction(String name, Class<R> resultType, Duration timeout, Map<String, Object> keywords) {
        this.name = name;
        this.resultType = resultType;
        this.timeout = timeout;
        this.keywords = keywords;
    }

    /**
     * Returns a handle on the function {@code name}, whose results are returned as the Java
     * values listed in {@link PythonPool}, with no time limit.
     *
     * @param name {@code "module:qualname"}
     * @return the handle
     * @throws NullPointerException     if {@code name} is null
     * @throws IllegalArgumentException if {@code name} is not of the form {@code "module:qualname"}
     */
    public static PythonFunction<Object> of(String name) {
        Objects.requireNonNull(name, "name");
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("not a Python function name of the form \"module:qualname\": " + name);
        }
        return new PythonFunction<>(name, Object.class, null, Map.of());
    }

    /**
     * Returns a handle on the same function whose results are converted to {@code type}.
     * Besides the type a result already has, a Python {@code int} converts to
     * {@link Integer} when it fits and to {@link java.math.BigInteger}; a primitive class
     * stands for its wrapper. A result that does not convert fails the call with a
     * {@link PythonConversionException}.
     *
     * @param <T>  the Java type of the results
     * @param type the class of the results
     * @return the handle, with the same time limit
     * @throws NullPointerException if {@code type} is null
     */
    public <T> PythonFunction<T> returning(Class<T> type) {
        return new PythonFunction<>(name, Objects.requireNonNull(type, "type"), timeout, keywords);
    }

    /**
     * Returns a handle on the same function whose calls are limited to {@code timeout} each,
     * counted from submission. A call still queued or running when its time is up is
     * withdrawn or stopped (its worker's running code is cancelled and the worker replaced),
     * and its future completes exceptionally with a {@link java.util.concurrent.TimeoutException}.
     *
     * @param timeout the time limit of each call
     * @return the handle, with the same result type
     * @throws NullPointerException     if {@code timeout} is null
     * @throws IllegalArgumentException if {@code timeout} is not positive
     */
    public PythonFunction<R> withTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive: " + timeout);
        }
        return new PythonFunction<>(name, resultType, timeout, keywords);
    }

    /**
     * Returns a handle on the same function whose calls also pass {@code keywords} as keyword
     * arguments ({@code f(*args, **keywords)}), added to those this handle passes already
     * (a name given again takes the new value), as {@code functools.partial} does. Values
     * convert as arguments do.
     *
     * @param keywords the keyword arguments, by name
     * @return the handle, with the same result type and time limit
     * @throws NullPointerException      if {@code keywords} or a name in it is null
     * @throws PythonConversionException if a value does not convert to a Python value
     */
    public PythonFunction<R> withKeywords(Map<String, ?> keywords) {
        Objects.requireNonNull(keywords, "keywords");
        Map<String, Object> merged = new LinkedHashMap<>(this.keywords);
        for (Map.Entry<String, ?> e : keywords.entrySet()) {
            if (!(e.getKey() instanceof String)) {
                throw new NullPointerException("a keyword argument's name is null");
            }
            merged.put(e.getKey(), e.getValue());
        }
        Conversions.encodeArguments(List.of(merged)); // fails now rather than at each call
        return new PythonFunction<>(name, resultType, timeout, Collections.unmodifiableMap(merged));
    }

    /**
     * Returns the keyword arguments every call passes.
     *
     * @return the names and values set by {@link #withKeywords(Map)}; empty for none
     */
    public Map<String, Object> keywords() {
        return keywords;
    }

    /** The same function, keywords and time limit, with results as converted: one task of a map's chunk. */
    PythonFunction<Object> chunkCall() {
        return new PythonFunction<>(name, Object.class, timeout, keywords);
    }

    /**
     * Returns the function's name.
     *
     * @return {@code "module:qualname"}
     */
    public String name() {
        return name;
    }

    /**
     * Returns the Java type of the function's results.
     *
     * @return the class results are converted to; {@code Object.class} for the default conversions
     */
    public Class<R> resultType() {
        return resultType;
    }

    /**
     * Returns the time limit of each call.
     *
     * @return the limit, or null for none
     */
    public Duration timeout() {
        return timeout;
    }

    @Override
    public String toString() {
        return "PythonFunction[" + name + " -> " + resultType.getSimpleName()
                + (keywords.isEmpty() ? "" : ", keywords " + keywords.keySet())
                + (timeout != null ? ", timeout " + timeout : "") + "]";
    }
}
