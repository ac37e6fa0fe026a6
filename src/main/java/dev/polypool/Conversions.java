package dev.polypool;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import org.graalvm.polyglot.Value;

import dev.polypool.engine.Protocol;

/**
 * Converts call arguments from Java into tokens a worker rebuilds as Python values, and a
 * worker's encoded result back into Java values. The tags are {@link Protocol}'s, which
 * {@code polypool/embed.py} reads too.
 *
 * <p>Arguments are encoded in the submitting thread, so that a value that does not convert
 * fails the submission; results are decoded in the worker's thread, the only one that may
 * read its context's values. Not instantiable; stateless and thread-safe.
 */
final class Conversions {
    private static final int NONE = Protocol.TAG_NONE, TRUE = Protocol.TAG_TRUE, FALSE = Protocol.TAG_FALSE,
            INT = Protocol.TAG_INT, BIGINT = Protocol.TAG_BIGINT, FLOAT = Protocol.TAG_FLOAT, STR = Protocol.TAG_STR,
            BYTES = Protocol.TAG_BYTES, LIST = Protocol.TAG_LIST, DICT = Protocol.TAG_DICT,
            INTS = Protocol.TAG_INTS, FLOATS = Protocol.TAG_FLOATS;
    // lists of this many numbers or more cross as one block of 64-bit values (embed.py's _BULK_MIN)
    private static final int BULK_MIN = 16;
    private static final int RAISED = Protocol.TAG_RAISED, UNCONVERTIBLE = Protocol.TAG_UNCONVERTIBLE;

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

    /** What a worker's call produced: a Java value, or a failure to report. */
    record Decoded(Object value, RuntimeException failure) {
    }

    /** Decodes what {@code polypool.embed.run} returned. Runs in the worker's thread. */
    static Decoded decodeResult(Value v) {
        if (v.isNull()) {
            return new Decoded(null, null);
        }
        if (v.isBoolean()) {
            return new Decoded(v.asBoolean(), null);
        }
        if (v.isString()) {
            return new Decoded(v.asString(), null);
        }
        if (v.isNumber()) {
            // only an exact int within a long comes bare: a float always comes tagged
            return new Decoded(v.asLong(), null);
        }
        int tag = v.getArrayElement(0).asInt();
        if (tag == RAISED) {
            return new Decoded(null, new PythonException(v.getArrayElement(1).asString(),
                    v.getArrayElement(2).asString(), v.getArrayElement(3).asString()));
        }
        if (tag == UNCONVERTIBLE) {
            return new Decoded(null, new PythonConversionException(v.getArrayElement(1).asString()));
        }
        int[] index = {0};
        return new Decoded(decodeToken(v, index), null);
    }

    private static Object decodeToken(Value tokens, int[] index) {
        int tag = tokens.getArrayElement(index[0]++).asInt();
        switch (tag) {
            case NONE:
                return null;
            case TRUE:
                return Boolean.TRUE;
            case FALSE:
                return Boolean.FALSE;
            case INT:
                return tokens.getArrayElement(index[0]++).asLong();
            case BIGINT:
                return new BigInteger(tokens.getArrayElement(index[0]++).asString());
            case FLOAT:
                return tokens.getArrayElement(index[0]++).asDouble();
            case STR:
                return tokens.getArrayElement(index[0]++).asString();
            case BYTES: {
                Value buffer = tokens.getArrayElement(index[0]++);
                byte[] bytes = new byte[Math.toIntExact(buffer.getBufferSize())];
                buffer.readBuffer(0, bytes, 0, bytes.length);
                return bytes;
            }
            case INTS:
            case FLOATS: {
                Value buffer = tokens.getArrayElement(index[0]++);
                byte[] bytes = new byte[Math.toIntExact(buffer.getBufferSize())];
                buffer.readBuffer(0, bytes, 0, bytes.length);
                ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
                List<Object> list = new ArrayList<>(bytes.length / 8);
                if (tag == INTS) {
                    LongBuffer longs = b.asLongBuffer();
                    while (longs.hasRemaining()) {
                        list.add(longs.get());
                    }
                } else {
                    DoubleBuffer doubles = b.asDoubleBuffer();
                    while (doubles.hasRemaining()) {
                        list.add(doubles.get());
                    }
                }
                return list;
            }
            case LIST: {
                int n = tokens.getArrayElement(index[0]++).asInt();
                List<Object> list = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    list.add(decodeToken(tokens, index));
                }
                return list;
            }
            case DICT: {
                int n = tokens.getArrayElement(index[0]++).asInt();
                Map<Object, Object> map = new HashMap<>(Math.max(16, n * 4 / 3 + 1));
                for (int i = 0; i < n; i++) {
                    Object key = decodeToken(tokens, index);
                    map.put(key, decodeToken(tokens, index));
                }
                return map;
            }
            default:
                throw new IllegalStateException("unknown result token tag " + tag);
        }
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
