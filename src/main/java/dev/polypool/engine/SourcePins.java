package dev.polypool.engine;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

import org.graalvm.polyglot.Context;

/**
 * Keeps the code that GraalPy parses shared by every context of the engine, and across the
 * runs of a resident engine, by holding strongly the sources its parse cache is keyed on.
 *
 * <p>Why: Truffle caches a parsed source's call target (and so its compiled code) per engine,
 * weakly keyed on the {@code Source} object of the first parse. GraalPy's {@code compile()}
 * and its frozen-module loader build a new {@code Source} for each call and drop it at once,
 * so an entry lives until the next garbage collection: measured with
 * {@code -Dpolyglot.engine.TraceSourceCache=true}, the stdlib's modules were evicted within
 * seconds of their first parse, and every context parsed, warmed and compiled them again
 * (a warm server compiled {@code collections.namedtuple} three times in twelve minutes,
 * 25-50 s each under load, and {@code examples/primes.py}'s {@code count_primes} afresh in
 * every run). Truffle interns equal sources while one is alive, so once the first such
 * {@code Source} is held here, every later parse of the same text (same file, name and
 * flags) in any context finds the same call target.
 *
 * <p>How: a listener on the parse cache of each sharing layer, installed through reflection
 * (Truffle has no public hook), holds the source of each miss of the weak cache. At most
 * {@link #LIMIT} sources are held, the least recently parsed dropped first, so that a server
 * running many different scripts stays bounded. If the Truffle internals differ from those
 * of the version this was written for, nothing is installed and polypool runs as before.
 *
 * <p>This class is thread-safe.
 */
public final class SourcePins {
    /** Sources held at most (the stdlib and polypool's modules are about 300). */
    static final int LIMIT = 4096;

    /** The sources held, in access order, each with the number of parses that found it. */
    private static final Map<Object, AtomicLong> HELD = Collections.synchronizedMap(
            new LinkedHashMap<>(256, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<Object, AtomicLong> eldest) {
                    return size() > LIMIT;
                }
            });
    /** The parse caches patched: weakly, as a sharing layer and its cache go once its contexts are closed. */
    private static final Set<Object> PATCHED = Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));
    private static volatile boolean broken;

    private SourcePins() {
    }

    /**
     * How many parses found the call target of a held source that {@code which} accepts (it
     * is given Truffle's {@code Source}); for tests and diagnostics.
     */
    static long hits(Predicate<Object> which) {
        synchronized (HELD) {
            return HELD.entrySet().stream().filter(e -> which.test(e.getKey())).mapToLong(e -> e.getValue().get()).sum();
        }
    }

    /**
     * Installs the listener on the parse cache of {@code context}'s sharing layer, once per
     * layer. The context must be initialised ({@link Context#initialize}); never throws.
     */
    static void attach(Context context) {
        if (broken) {
            return;
        }
        try {
            Object impl = field(Context.class, "receiver").get(context);
            Object layer = field(impl.getClass(), "layer").get(impl);
            if (layer == null) {
                return;
            }
            Method getCache = layer.getClass().getDeclaredMethod("getSourceCache");
            getCache.setAccessible(true);
            Object cache = getCache.invoke(layer);
            if (cache == null || !PATCHED.add(cache)) {
                return;
            }
            synchronized (cache) {
                Field listenerField = field(cache.getClass(), "sourceCacheListener");
                Object previous = listenerField.get(cache);
                Class<?> listenerType = listenerField.getType();
                Object listener = Proxy.newProxyInstance(listenerType.getClassLoader(), new Class<?>[]{listenerType},
                        new Pinning(previous));
                listenerField.set(cache, listener);
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            broken = true;
            Log.ENGINE.debug(() -> "source pinning unavailable (" + e + "): each context parses and compiles its modules anew");
        }
    }

    private static Field field(Class<?> type, String name) throws NoSuchFieldException {
        for (Class<?> c = type; c != null; c = c.getSuperclass()) {
            try {
                Field f = c.getDeclaredField(name);
                f.setAccessible(true);
                return f;
            } catch (NoSuchFieldException e) {
                // declared higher up
            }
        }
        throw new NoSuchFieldException(type.getName() + "." + name);
    }

    /** Holds the source of each weak-cache miss; passes every event on to the listener it replaced. */
    private record Pinning(Object previous) implements InvocationHandler {
        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            switch (method.getName()) {
                case "onCacheMiss", "onCacheHit" -> {
                    // args: source, call target, cache type, time or hits
                    if (args[2] instanceof Enum<?> type && type.name().equals("WEAK")) {
                        // a hit's source equals the held one, which stays, marked as recently used
                        AtomicLong hits = HELD.computeIfAbsent(args[0], k -> new AtomicLong());
                        if (method.getName().equals("onCacheHit")) {
                            hits.incrementAndGet();
                        }
                    }
                }
                case "hashCode" -> {
                    return System.identityHashCode(proxy);
                }
                case "equals" -> {
                    return proxy == args[0];
                }
                case "toString" -> {
                    return "polypool source pins";
                }
                default -> {
                }
            }
            if (previous != null && method.getDeclaringClass().isInstance(previous)) {
                method.setAccessible(true); // the listener interface is Truffle's, package-private
                try {
                    return method.invoke(previous, args);
                } catch (InvocationTargetException e) {
                    throw e.getCause();
                }
            }
            return null;
        }
    }
}
