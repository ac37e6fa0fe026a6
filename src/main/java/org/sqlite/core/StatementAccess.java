package org.sqlite.core;

import java.nio.charset.StandardCharsets;
import java.sql.SQLException;

/**
 * The statement-level calls of sqlite-jdbc's {@link NativeDB} that its JDBC layer keeps
 * package-private (prepare, bind, finalize, the error message), for polypool's
 * {@code _sqlite3} ({@code dev.polypool.stdlib.SqliteDb}), which drives SQLite's C API the
 * way CPython's {@code _sqlite3} does rather than through JDBC. It lives in sqlite-jdbc's
 * package for that access only; the jar is not sealed.
 */
public final class StatementAccess {
    private StatementAccess() {
    }

    /** {@code sqlite3_prepare_v2} of one statement; throws the SQLite error as sqlite-jdbc does. */
    public static long prepare(DB db, String sql) throws SQLException {
        return ((NativeDB) db).prepare_utf8(sql.getBytes(StandardCharsets.UTF_8));
    }

    public static int finalize(DB db, long stmt) throws SQLException {
        return db.finalize(stmt);
    }

    public static String errmsg(DB db) throws SQLException {
        return db.errmsg();
    }

    public static int bindNull(DB db, long stmt, int pos) throws SQLException {
        return db.bind_null(stmt, pos);
    }

    public static int bindLong(DB db, long stmt, int pos, long v) throws SQLException {
        return db.bind_long(stmt, pos, v);
    }

    public static int bindDouble(DB db, long stmt, int pos, double v) throws SQLException {
        return db.bind_double(stmt, pos, v);
    }

    public static int bindText(DB db, long stmt, int pos, String v) throws SQLException {
        return db.bind_text(stmt, pos, v);
    }

    public static int bindBlob(DB db, long stmt, int pos, byte[] v) throws SQLException {
        return db.bind_blob(stmt, pos, v);
    }

    public static int parameterCount(DB db, long stmt) throws SQLException {
        return db.bind_parameter_count(stmt);
    }
}
