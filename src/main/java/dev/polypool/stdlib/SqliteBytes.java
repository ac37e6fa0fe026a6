package dev.polypool.stdlib;

import java.nio.charset.StandardCharsets;

import org.graalvm.polyglot.HostAccess;

/**
 * A BLOB value on its way to Python. A Java {@code byte[]} reaches Python as a list of signed
 * numbers, one interop call each; this hands the bytes over as one latin-1 string, which the
 * Python module encodes back to {@code bytes} at once.
 */
public final class SqliteBytes {
    private final byte[] bytes;

    SqliteBytes(byte[] bytes) {
        this.bytes = bytes;
    }

    /** The bytes as a string of code points 0-255. */
    @HostAccess.Export
    public String latin1() {
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }

    static Object wrap(Object value) {
        return value instanceof byte[] b ? new SqliteBytes(b) : value;
    }
}
