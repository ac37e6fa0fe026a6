package dev.polypool;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import dev.polypool.engine.EmbedResults;
import dev.polypool.engine.Protocol;

/**
 * Converts call arguments from Java into tokens a worker rebuilds as Python values, and
 * decoded results ({@link EmbedResults}) to the Java types asked for. The tags are
 * {@link Protocol}'s, which {@code polypool/embed.py} reads too.
 *
 * <p>Arguments are encoded in the submitting thread, so that a value that does not convert
 * fails the submission; results are decoded in the worker's thread, the only one that may
 * read its context's values (by {@link EmbedResults}, on the member for a pool on a
 * cluster). Not instantiable; stateless and thread-safe.
 */
final class Conversions {
    private static final int NONE = Protocol.TAG_NONE, TRUE = Protocol.TAG_TRUE, FALSE = Protocol.TAG_FALSE,
            INT = Protocol.TAG_INT, BIGINT = Protocol.TAG_BIGINT, FLOAT = Protocol.TAG_FLOAT, STR = Protocol.TAG_STR,
            BYTES = Protocol.TAG_BYTES, LIST = Protocol.TAG_LIST, DICT = Protocol.TAG_DICT,
            INTS = Protocol.TAG_INTS, FLOATS = Protocol.TAG_FLOATS;
    // lists of this many numbers or more cross as one block of 64-bit values (embed.py's _BULK_MIN)
    private static final int BULK_MIN = 16;

    private static final BigInteger LONG_MIN = BigInteger.valueOf(Long.MIN_VALUE);
    private static final BigInteger LONG_MAX = BigInteger.valueOf(Long.MAX_VALUE);

    private Conversions() {
    }

    /**
     * Whether every argument crosses as it is: Boolean, an integral box, Double, Float,
     * String. Not null, which would reach Python as a foreign null rather than {@code None}.
     */
    static boolean allPlain(Object[] args) {
        for (Object a : args) {
            if (!(a instanceof String || a instanceof Long || a instanceof Integer || a instanceof Double
                    || a instanceof Boolean || a instanceof Short || a instanceof Byte || a instanceof Float)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Encodes {@code args} as the tokens of one Python list.
     *
     * @throws PythonConversionException if an argument, or an element of one, does not convert
     */
    static Object[] encodeArguments(List<?> args) {
        List<Object> out = new ArrayList<>();
        encode(args, out, new IdentityHashMap<>());
        return out.toArray();
    }

    private static void encode(Object v, List<Object> out, IdentityHashMap<Object, Boolean> open) {
        if (v == null) {
            out.add(NONE);
        } else if (v instanceof Boolean b) {
            out.add(b ? TRUE : FALSE);
        } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
            out.add(INT);
            out.add(((Number) v).longValue());
        } else if (v instanceof BigInteger big) {
            if (big.compareTo(LONG_MIN) >= 0 && big.compareTo(LONG_MAX) <= 0) {
                out.add(INT);
                out.add(big.longValue());
            } else {
                out.add(BIGINT);
                out.add(big.toString());
            }
        } else if (v instanceof Double || v instanceof Float) {
            out.add(FLOAT);
            out.add(((Number) v).doubleValue());
        } else if (v instanceof String s) {
            out.add(STR);
            out.add(s);
        } else if (v instanceof byte[] bytes) {
            out.add(BYTES);
            out.add(new String(bytes, StandardCharsets.ISO_8859_1));
        } else if (v instanceof ByteBuffer buffer) {
            byte[] bytes = new byte[buffer.remaining()];
            buffer.duplicate().get(bytes); // the caller's position stays
            out.add(BYTES);
            out.add(new String(bytes, StandardCharsets.ISO_8859_1));
        } else if (v instanceof long[] || v instanceof int[] || v instanceof short[]) {
            out.add(INTS);
            out.add(packLongs(v));
        } else if (v instanceof double[] || v instanceof float[]) {
            out.add(FLOATS);
            out.add(packDoubles(v));
        } else if (v instanceof List<?> list && list.size() >= BULK_MIN && bulk(list, out)) {
            return;
        } else if (v instanceof List<?> list) {
            enter(v, open);
            out.add(LIST);
            out.add(list.size());
            for (Object item : list) {
                encode(item, out, open);
            }
            open.remove(v);
        } else if (v instanceof Map<?, ?> map) {
            enter(v, open);
            out.add(DICT);
            out.add(map.size());
            for (Map.Entry<?, ?> e : map.entrySet()) {
                encode(e.getKey(), out, open);
                encode(e.getValue(), out, open);
            }
            open.remove(v);
        } else {
            throw new PythonConversionException("cannot convert " + v.getClass().getName()
                    + " to a Python value (supported: null, Boolean, Byte, Short, Integer, Long, BigInteger, Float,"
                    + " Double, String, byte[], ByteBuffer, long[], int[], short[], double[], float[], List, Map)");
        }
    }

    /**
     * Appends {@code list} as one block of 64-bit values if all its elements are integral
     * boxes (not BigInteger) or all Double/Float: GraalPy then makes the Python list from one
     * string instead of reading a token per element. Returns whether it did.
     */
    private static boolean bulk(List<?> list, List<Object> out) {
        boolean ints = true, floats = true;
        for (Object o : list) {
            ints &= o instanceof Long || o instanceof Integer || o instanceof Short || o instanceof Byte;
            floats &= o instanceof Double || o instanceof Float;
            if (!ints && !floats) {
                return false;
            }
        }
        ByteBuffer b = ByteBuffer.allocate(8 * list.size()).order(ByteOrder.nativeOrder());
        for (Object o : list) {
            if (ints) {
                b.putLong(((Number) o).longValue());
            } else {
                b.putDouble(((Number) o).doubleValue());
            }
        }
        out.add(ints ? INTS : FLOATS);
        out.add(new String(b.array(), StandardCharsets.ISO_8859_1));
        return true;
    }

    private static String packLongs(Object array) {
        int n = java.lang.reflect.Array.getLength(array);
        ByteBuffer b = ByteBuffer.allocate(8 * n).order(ByteOrder.nativeOrder());
        if (array instanceof long[] a) {
            b.asLongBuffer().put(a);
        } else if (array instanceof int[] a) {
            for (int x : a) {
                b.putLong(x);
            }
        } else {
            for (short x : (short[]) array) {
                b.putLong(x);
            }
        }
        return new String(b.array(), StandardCharsets.ISO_8859_1);
    }

    private static String packDoubles(Object array) {
        int n = java.lang.reflect.Array.getLength(array);
        ByteBuffer b = ByteBuffer.allocate(8 * n).order(ByteOrder.nativeOrder());
        if (array instanceof double[] a) {
            b.asDoubleBuffer().put(a);
        } else {
            for (float x : (float[]) array) {
                b.putDouble(x);
            }
        }
        return new String(b.array(), StandardCharsets.ISO_8859_1);
    }

    private static void enter(Object container, IdentityHashMap<Object, Boolean> open) {
        if (open.put(container, Boolean.TRUE) != null) {
            throw new PythonConversionException("cannot convert a " + container.getClass().getName()
                    + " that contains itself to a Python value");
        }
    }

    /** The exception of a call that raised, or whose result did not convert. */
    static RuntimeException exception(EmbedResults.Failure f) {
        return f.unconvertible() ? new PythonConversionException(f.message())
                : new PythonException(f.type(), f.message(), f.traceback());
    }

    /**
     * Converts a decoded result to {@code type}.
     *
     * @throws PythonConversionException if it does not convert
     */
    @SuppressWarnings("unchecked")
    static <T> T cast(Object value, Class<T> type) {
        Class<?> boxed = type.isPrimitive() ? box(type) : type;
        if (value == null) {
            if (type.isPrimitive()) {
                throw new PythonConversionException("cannot convert Python None to " + type.getName());
            }
            return null;
        }
        if (boxed.isInstance(value)) {
            return (T) value;
        }
        if (value instanceof List<?> list && (type == long[].class || type == double[].class)) {
            return (T) toArray(list, type);
        }
        if (value instanceof Long l) {
            if (boxed == Integer.class && l == l.intValue()) {
                return (T) Integer.valueOf(l.intValue());
            }
            if (boxed == BigInteger.class) {
                return (T) BigInteger.valueOf(l);
            }
        }
        throw new PythonConversionException("cannot convert the result " + describe(value) + " to " + type.getName());
    }

    /** A list of Python ints as a long[], or of Python floats (and ints) as a double[]. */
    private static Object toArray(List<?> list, Class<?> type) {
        int n = list.size();
        if (type == long[].class) {
            long[] a = new long[n];
            for (int i = 0; i < n; i++) {
                if (!(list.get(i) instanceof Long l)) {
                    throw new PythonConversionException("cannot convert the result's element " + i + ", "
                            + describe(list.get(i)) + ", to long");
                }
                a[i] = l;
            }
            return a;
        }
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            if (!(list.get(i) instanceof Double || list.get(i) instanceof Long)) {
                throw new PythonConversionException("cannot convert the result's element " + i + ", "
                        + describe(list.get(i)) + ", to double");
            }
            a[i] = ((Number) list.get(i)).doubleValue();
        }
        return a;
    }

    private static String describe(Object value) {
        if (value == null) {
            return "None";
        }
        String s = String.valueOf(value);
        if (s.length() > 60) {
            s = s.substring(0, 57) + "...";
        }
        return "(" + value.getClass().getName() + ") " + s;
    }

    private static Class<?> box(Class<?> primitive) {
        if (primitive == int.class) {
            return Integer.class;
        } else if (primitive == long.class) {
            return Long.class;
        } else if (primitive == double.class) {
            return Double.class;
        } else if (primitive == boolean.class) {
            return Boolean.class;
        }
        return primitive; // never an instance: fails the conversion with a clear message
    }
}
