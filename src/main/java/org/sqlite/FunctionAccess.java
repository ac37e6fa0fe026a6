package org.sqlite;

import java.sql.SQLException;

import org.sqlite.core.Codes;

/**
 * Reads the arguments of, and sets the result of, the current call of a user function from
 * outside its class: {@link Function}'s value and result methods are protected. For
 * polypool's {@code _sqlite3} ({@code dev.polypool.stdlib.SqliteDb}); it lives in
 * sqlite-jdbc's package for that access only.
 */
public final class FunctionAccess {
    private FunctionAccess() {
    }

    /** The arguments as Long, Double, String, byte[] or null, by their SQLite type. */
    public static Object[] arguments(Function f) throws SQLException {
        int n = f.args();
        Object[] out = new Object[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (f.value_type(i)) {
                case Codes.SQLITE_INTEGER -> f.value_long(i);
                case Codes.SQLITE_FLOAT -> f.value_double(i);
                case Codes.SQLITE_TEXT -> f.value_text(i);
                // sqlite-jdbc gives null for an empty BLOB
                case Codes.SQLITE_BLOB -> f.value_blob(i) == null ? new byte[0] : f.value_blob(i);
                default -> null;
            };
        }
        return out;
    }

    /** Sets the result: a Long, Double, String, byte[] or null. */
    public static void result(Function f, Object value) throws SQLException {
        if (value == null) {
            f.result();
        } else if (value instanceof Long l) {
            f.result(l);
        } else if (value instanceof Double d) {
            f.result(d);
        } else if (value instanceof String s) {
            f.result(s);
        } else {
            f.result((byte[]) value);
        }
    }
}
