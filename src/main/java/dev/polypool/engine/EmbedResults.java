package dev.polypool.engine;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.graalvm.polyglot.Value;

/**
 * Reads what a Java API worker's task runner ({@code polypool.embed.run}) returned into Java
 * values: in the worker's thread of a local {@code PythonPool}, and on a cluster member for
 * the slots of a remote one, whose outcomes then cross the network as these values. The
 * result tokens are {@link Protocol}'s {@code TAG_*}, which {@code polypool/embed.py} writes.
 *
 * <p>An outcome's payload is {@code null}, {@link Boolean}, {@link Long}, {@link BigInteger},
 * {@link Double}, {@link String}, {@code byte[]}, an {@link ArrayList} or a {@link HashMap} of
 * these (status {@link Protocol#OK}), or a {@link Failure} (status {@link Protocol#RAISED}).
 * Stateless and thread-safe.
 */
public final class EmbedResults {
    private EmbedResults() {
    }

    /**
     * A call that raised, or whose result has no Java form: what the Java API turns into its
     * exception.
     *
     * @param unconvertible whether the call returned a value that does not convert (the
     *                      message says which), rather than raised
     * @param type          the Python exception's type name; empty when unconvertible
     * @param message       {@code str()} of the exception, or what did not convert
     * @param traceback     the formatted traceback; empty when unconvertible
     */
    public record Failure(boolean unconvertible, String type, String message, String traceback) {
    }

    /** The outcome of {@code task} whose runner returned {@code v}. Runs in the thread that owns {@code v}'s context. */
    public static Outcome decode(Task task, Value v) {
        Object value;
        int status = Protocol.OK;
        if (v.isNull()) {
            value = null;
        } else if (v.isBoolean()) {
            value = v.asBoolean();
        } else if (v.isString()) {
            value = v.asString();
        } else if (v.isNumber()) {
            // only an exact int within a long comes bare: a float always comes tagged
            value = v.asLong();
        } else {
            int tag = v.getArrayElement(0).asInt();
            if (tag == Protocol.TAG_RAISED) {
                status = Protocol.RAISED;
                value = new Failure(false, v.getArrayElement(1).asString(), v.getArrayElement(2).asString(),
                        v.getArrayElement(3).asString());
            } else if (tag == Protocol.TAG_UNCONVERTIBLE) {
                status = Protocol.RAISED;
                value = new Failure(true, "", v.getArrayElement(1).asString(), "");
            } else {
                value = decodeToken(v, new int[] {0});
            }
        }
        return new Outcome(task.jobId(), task.index(), status, value);
    }

    private static Object decodeToken(Value tokens, int[] index) {
        int tag = tokens.getArrayElement(index[0]++).asInt();
        switch (tag) {
            case Protocol.TAG_NONE:
                return null;
            case Protocol.TAG_TRUE:
                return Boolean.TRUE;
            case Protocol.TAG_FALSE:
                return Boolean.FALSE;
            case Protocol.TAG_INT:
                return tokens.getArrayElement(index[0]++).asLong();
            case Protocol.TAG_BIGINT:
                return new BigInteger(tokens.getArrayElement(index[0]++).asString());
            case Protocol.TAG_FLOAT:
                return tokens.getArrayElement(index[0]++).asDouble();
            case Protocol.TAG_STR:
                return tokens.getArrayElement(index[0]++).asString();
            case Protocol.TAG_BYTES:
                return bytes(tokens.getArrayElement(index[0]++));
            case Protocol.TAG_INTS:
            case Protocol.TAG_FLOATS: {
                byte[] bytes = bytes(tokens.getArrayElement(index[0]++));
                ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
                List<Object> list = new ArrayList<>(bytes.length / 8);
                if (tag == Protocol.TAG_INTS) {
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
            case Protocol.TAG_LIST: {
                int n = tokens.getArrayElement(index[0]++).asInt();
                List<Object> list = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    list.add(decodeToken(tokens, index));
                }
                return list;
            }
            case Protocol.TAG_DICT: {
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

    private static byte[] bytes(Value buffer) {
        byte[] bytes = new byte[Math.toIntExact(buffer.getBufferSize())];
        buffer.readBuffer(0, bytes, 0, bytes.length);
        return bytes;
    }
}
