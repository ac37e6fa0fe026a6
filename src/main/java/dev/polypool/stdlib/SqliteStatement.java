package dev.polypool.stdlib;

import java.nio.charset.StandardCharsets;
import java.sql.SQLException;

import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.Value;
import org.sqlite.core.Codes;
import org.sqlite.core.DB;
import org.sqlite.core.StatementAccess;

/**
 * A prepared SQLite statement of a {@link SqliteDb}. A row of parameters crosses from Python
 * as one sequence ({@link #execute}; {@link #executeMany} takes a list of rows), converted
 * at once; result rows cross back as one string per batch ({@link #fetch}, in {@link Cells}'
 * format), which Python splits faster than it reads a Java array element by element.
 * Methods return SQLite result codes; errors are left in the connection.
 */
public final class SqliteStatement {
    private final SqliteDb owner;
    private long ptr;
    final SqlText.Statement text;
    private final String sql;
    private int columns;
    private boolean hasRow;
    private long changes;

    SqliteStatement(SqliteDb owner, long ptr, SqlText.Statement text, String sql) {
        this.owner = owner;
        this.ptr = ptr;
        this.text = text;
        this.sql = sql;
        int n = 0;
        if (ptr != 0) {
            try {
                n = owner.db().column_count(ptr);
            } catch (SQLException e) {
                n = 0;
            }
        }
        this.columns = n;
    }

    /** Whether anything but blanks and comments follows the statement. */
    @HostAccess.Export
    public boolean hasTail() {
        return text.end < sql.length() && SqlText.scan(sql, text.end).start >= 0;
    }

    /** {@link SqlText}'s kind: DML 1, query 2, BEGIN 3..., other 0. */
    @HostAccess.Export
    public int kind() {
        return text.kind;
    }

    @HostAccess.Export
    public int parameterCount() {
        return text.parameters.size();
    }

    /** The name of parameter {@code index} (1-based) with its prefix, or null for {@code ?}. */
    @HostAccess.Export
    public String parameterName(int index) {
        return text.parameters.get(index - 1);
    }

    /** The number of result columns, as of the last execution (a schema change can alter it). */
    @HostAccess.Export
    public int columnCount() {
        return columns;
    }

    @HostAccess.Export
    public String[] columnNames() throws SQLException {
        String[] names = new String[columns];
        for (int i = 0; i < columns; i++) {
            names[i] = owner.db().column_name(ptr, i);
        }
        return names;
    }

    @HostAccess.Export
    public String[] declaredTypes() throws SQLException {
        String[] types = new String[columns];
        for (int i = 0; i < columns; i++) {
            types[i] = owner.db().column_decltype(ptr, i);
        }
        return types;
    }

    private int stoppedAt;

    /** The row at which the last {@link #executeMany} stopped (its row count if it ran them all). */
    @HostAccess.Export
    public int stoppedAt() {
        return stoppedAt;
    }

    /** Whether a row is ready for {@link #fetch}. */
    @HostAccess.Export
    public boolean hasRow() {
        return hasRow;
    }

    /** Rows changed by the last execution (DML), summed over {@link #executeMany}'s rows. */
    @HostAccess.Export
    public long changes() {
        return changes;
    }

    @HostAccess.Export
    public long lastInsertRowid() {
        return owner.lastInsertRowid();
    }

    /**
     * Binds one row of parameters (a Python sequence of int, float, str, bytes or None) and
     * steps once: returns SQLITE_ROW (a row is ready), SQLITE_DONE or an error code.
     */
    @HostAccess.Export
    public int execute(Value params) {
        if (ptr == 0) {
            return Codes.SQLITE_DONE;
        }
        DB db = owner.db();
        try {
            db.reset(ptr);
            hasRow = false;
            changes = 0;
            int rc = bind(db, params);
            if (rc != Codes.SQLITE_OK) {
                return rc;
            }
            rc = step(db);
            if (rc == Codes.SQLITE_ROW) {
                columns = db.column_count(ptr);
                if (text.kind == SqlText.DML) {
                    // DML with RETURNING: SQLite made every change at the first step
                    changes = db.changes();
                }
            } else if (rc == Codes.SQLITE_DONE) {
                columns = db.column_count(ptr);
            }
            if (rc == Codes.SQLITE_DONE || rc == Codes.SQLITE_ROW) {
                owner.readLastInsertRowid();
            }
            return rc;
        } catch (SQLException e) {
            return owner.fail(e);
        }
    }

    /**
     * Executes once per parameter row of {@code rows} (a Python list of them): returns
     * SQLITE_DONE, or the error code of the first row that failed (the rows before it ran;
     * {@link #stoppedAt()} says which), {@link #NEEDS_PYTHON} for a row whose values the
     * module must bind itself.
     */
    @HostAccess.Export
    public int executeMany(Value rows) {
        if (ptr == 0) {
            return Codes.SQLITE_DONE;
        }
        DB db = owner.db();
        long total = 0;
        stoppedAt = 0;
        try {
            long n = rows.getArraySize();
            for (long r = 0; r < n; r++) {
                stoppedAt = (int) r;
                db.reset(ptr);
                hasRow = false;
                Value row = rows.getArrayElement(r);
                if (row.getArraySize() != text.parameters.size()) {
                    changes = total;
                    return NEEDS_PYTHON;
                }
                int rc = bind(db, row);
                if (rc != Codes.SQLITE_OK) {
                    changes = total;
                    return rc;
                }
                rc = step(db);
                if (rc == Codes.SQLITE_ROW) {
                    rc = Codes.SQLITE_DONE;
                    db.reset(ptr);
                    hasRow = false;
                }
                if (rc != Codes.SQLITE_DONE) {
                    changes = total;
                    return rc;
                }
                total += changes;
            }
            changes = total;
            stoppedAt = (int) n;
            return Codes.SQLITE_DONE;
        } catch (SQLException e) {
            changes = total;
            return owner.fail(e);
        }
    }

    private int bind(DB db, Value params) throws SQLException {
        db.clear_bindings(ptr);
        // one conversion of the whole row: far fewer polyglot calls than one per element
        Object[] values = params.as(Object[].class);
        for (int i = 0; i < values.length; i++) {
            Object v = values[i];
            int pos = i + 1;
            int rc;
            if (v == null) {
                rc = StatementAccess.bindNull(db, ptr, pos);
            } else if (v instanceof String s) {
                if (hasLoneSurrogate(s)) {
                    return SURROGATE;
                }
                rc = StatementAccess.bindText(db, ptr, pos, s);
            } else if (v instanceof Double || v instanceof Float) {
                rc = StatementAccess.bindDouble(db, ptr, pos, ((Number) v).doubleValue());
            } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
                rc = StatementAccess.bindLong(db, ptr, pos, ((Number) v).longValue());
            } else if (v instanceof Number) {
                return NEEDS_PYTHON; // an int beyond 64 bits: the module raises OverflowError
            } else if (v instanceof Boolean b) {
                rc = StatementAccess.bindLong(db, ptr, pos, b ? 1 : 0);
            } else {
                Value blob = params.getArrayElement(i);
                if (!blob.hasBufferElements()) {
                    return NEEDS_PYTHON;
                }
                byte[] bytes = new byte[(int) blob.getBufferSize()];
                blob.readBuffer(0, bytes, 0, bytes.length);
                rc = StatementAccess.bindBlob(db, ptr, pos, bytes);
            }
            if (rc != Codes.SQLITE_OK) {
                return owner.fail(rc);
            }
        }
        return Codes.SQLITE_OK;
    }

    /** Returned when a str parameter holds a lone surrogate, which UTF-8 cannot encode. */
    static final int SURROGATE = -2;

    /** Returned when a parameter is none of the values this class binds: the module binds that row. */
    static final int NEEDS_PYTHON = -3;

    static boolean hasLoneSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                } else {
                    return true;
                }
            }
        }
        return false;
    }

    /** The statement's text, as SQLite's trace reports it. */
    String sql() {
        return text.start < 0 ? "" : sql.substring(text.start, text.end);
    }

    /**
     * A Python int, float, str, bytes-like or None as Long, Double, String, byte[] or null
     * (a user function's result; the Python module hands over nothing else).
     */
    static Object plain(Value v) {
        if (v.isNull()) {
            return null;
        }
        if (v.isString()) {
            return v.asString();
        }
        if (v.isNumber()) {
            // a float that holds an integer also fits in a long: ask for the boxed type
            Object o = v.as(Object.class);
            return o instanceof Double || o instanceof Float ? (Object) v.asDouble() : (Object) v.asLong();
        }
        if (v.isBoolean()) {
            return v.asBoolean() ? 1L : 0L;
        }
        byte[] bytes = new byte[(int) v.getBufferSize()];
        v.readBuffer(0, bytes, 0, bytes.length);
        return bytes;
    }

    private int step(DB db) throws SQLException {
        int rc = db.step(ptr);
        if (rc == Codes.SQLITE_ROW) {
            hasRow = true;
            return rc;
        }
        hasRow = false;
        if (rc == Codes.SQLITE_DONE) {
            changes = text.kind == SqlText.DML ? db.changes() : 0;
            owner.ran(text);
            db.reset(ptr);
            return rc;
        }
        owner.fail(rc);
        db.reset(ptr);
        return rc;
    }

    /** Steps to the end, discarding rows; SQLITE_DONE or an error code. */
    int stepAll() {
        if (ptr == 0) {
            return Codes.SQLITE_DONE;
        }
        DB db = owner.db();
        try {
            int rc;
            do {
                rc = step(db);
            } while (rc == Codes.SQLITE_ROW);
            return rc;
        } catch (SQLException e) {
            return owner.fail(e);
        }
    }

    /**
     * Up to {@code max} rows from the ready one on, in {@link Cells}' format; after the last,
     * {@link #hasRow()} is false. {@code raw} has a character per column: {@code '1'} gives
     * the column's non-null values as bytes (for converters); {@code textAsBytes} gives TEXT
     * values as UTF-8 bytes marked as text (for a text_factory). If stepping fails, the rows
     * read so far are returned, the error is in the connection and {@link #failed()} is true.
     */
    @HostAccess.Export
    public String fetch(int max, String raw, boolean textAsBytes) {
        DB db = owner.db();
        int columns = this.columns;
        Cells.Writer out = new Cells.Writer();
        int count = 0;
        failed = false;
        try {
            while (hasRow && count < max) {
                for (int c = 0; c < columns; c++) {
                    int type = db.column_type(ptr, c);
                    if (type == Codes.SQLITE_NULL) {
                        out.nul();
                    } else if (raw != null && raw.charAt(c) == '1') {
                        out.bytes(Cells.BLOB, db.column_blob(ptr, c));
                    } else {
                        switch (type) {
                            case Codes.SQLITE_INTEGER -> out.integer(db.column_long(ptr, c));
                            case Codes.SQLITE_FLOAT -> out.real(db.column_double(ptr, c));
                            case Codes.SQLITE_TEXT -> {
                                if (textAsBytes) {
                                    out.bytes(Cells.TEXT_BYTES, db.column_blob(ptr, c));
                                } else {
                                    out.text(text(db, c));
                                }
                            }
                            default -> out.bytes(Cells.BLOB, db.column_blob(ptr, c));
                        }
                    }
                }
                count++;
                int rc = step(db);
                if (rc != Codes.SQLITE_ROW && rc != Codes.SQLITE_DONE) {
                    failed = true;
                    break;
                }
            }
        } catch (SQLException e) {
            owner.fail(e);
            failed = true;
        }
        return out.toString();
    }

    private boolean failed;

    @HostAccess.Export
    public boolean failed() {
        return failed;
    }

    private String text(DB db, int c) throws SQLException {
        byte[] b = db.column_blob(ptr, c);
        return b == null ? "" : new String(b, StandardCharsets.UTF_8);
    }

    /** Resets the statement, dropping its pending rows. */
    @HostAccess.Export
    public void reset() {
        if (ptr != 0 && owner.db() != null) {
            try {
                owner.db().reset(ptr);
            } catch (SQLException e) {
                // a reset reports the last step's error, which was reported then
            }
        }
        hasRow = false;
    }

    /** Finalizes the statement; later calls do nothing. */
    @HostAccess.Export
    public void close() {
        if (ptr != 0 && owner.db() != null) {
            try {
                StatementAccess.finalize(owner.db(), ptr);
            } catch (SQLException e) {
                // finalize reports the last step's error, which was reported then
            }
        }
        ptr = 0;
        hasRow = false;
        owner.forget(this);
    }
}
