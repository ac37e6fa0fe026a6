package dev.polypool.stdlib;

import java.sql.SQLException;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Properties;
import java.util.Set;

import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Value;
import org.sqlite.Collation;
import org.sqlite.Function;
import org.sqlite.FunctionAccess;
import org.sqlite.ProgressHandler;
import org.sqlite.SQLiteCommitListener;
import org.sqlite.SQLiteConnection;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;
import org.sqlite.core.Codes;
import org.sqlite.core.DB;
import org.sqlite.core.StatementAccess;
import org.sqlite.jdbc4.JDBC4Connection;

/**
 * One SQLite database connection of polypool's {@code _sqlite3} module, on sqlite-jdbc's
 * native library (loaded once per JVM, so every context can open databases). It offers what
 * CPython's {@code _sqlite3} takes from SQLite's C API: statements ({@link SqliteStatement}),
 * transaction state, user functions, aggregates and collations, the progress handler, limits,
 * serialization and backup. The Python module keeps the DB-API semantics (implicit
 * transactions, adapters, converters, rows); this class keeps the calls across the Java
 * boundary few: a statement binds a whole parameter row and returns whole rows.
 *
 * <p>Errors do not throw: a method returns SQLite's result code and leaves the code and
 * message in {@link #errorCode()} and {@link #errorMessage()}. A connection is used by one
 * thread at a time, as CPython's {@code check_same_thread} arranges.
 */
public final class SqliteDb {
    private final String file;
    private final Set<SqliteDb> registry;
    private final Transaction transaction = new Transaction();
    private SQLiteConnection conn;
    private DB db;
    private int errorCode;
    private String errorMessage;
    private long lastInsertRowid;
    private long lastRowidQuery;
    private final Set<SqliteStatement> statements = Collections.newSetFromMap(new IdentityHashMap<>());

    private SqliteDb(String file, Set<SqliteDb> registry) {
        this.file = file;
        this.registry = registry;
    }

    /**
     * Opens {@code file} with {@code sqlite3_open_v2}'s {@code flags}, kept in {@code registry}
     * (if not null) until closed; on failure the result's {@link #errorCode()} is set and it is
     * closed.
     */
    static SqliteDb open(String file, int flags, int busyTimeoutMillis, Set<SqliteDb> registry) {
        SqliteDb d = new SqliteDb(file, registry);
        Properties props = new Properties();
        props.setProperty("open_mode", Integer.toString(flags));
        try {
            d.conn = new JDBC4Connection("jdbc:sqlite:" + file, file, props);
            d.db = d.conn.getDatabase();
            d.db.busy_timeout(busyTimeoutMillis);
            d.conn.addCommitListener(d.transaction);
            if (registry != null) {
                registry.add(d);
            }
        } catch (SQLException e) {
            d.fail(e);
            d.conn = null;
            d.db = null;
        }
        return d;
    }

    DB db() {
        return db;
    }

    @HostAccess.Export
    public boolean isOpen() {
        return db != null;
    }

    @HostAccess.Export
    public int errorCode() {
        return errorCode;
    }

    @HostAccess.Export
    public String errorMessage() {
        return errorMessage;
    }

    /** Records the connection's current error for result code {@code rc}; returns {@code rc}. */
    int fail(int rc) {
        errorCode = rc;
        try {
            errorMessage = StatementAccess.errmsg(db);
        } catch (SQLException e) {
            errorMessage = e.getMessage();
        }
        return rc;
    }

    int fail(SQLException e) {
        if (e instanceof SQLiteException se) {
            errorCode = se.getResultCode().code;
            String m = se.getMessage();
            // sqlite-jdbc's message is "[NAME] description (sqlite3_errmsg)"
            int open = m.indexOf(" (");
            errorMessage = open >= 0 && m.endsWith(")") ? m.substring(open + 2, m.length() - 1) : m;
        } else {
            errorCode = Codes.SQLITE_ERROR;
            errorMessage = e.getMessage();
        }
        return errorCode;
    }

    int fail(int rc, String message) {
        errorCode = rc;
        errorMessage = message;
        return rc;
    }

    /** Prepares the statement of {@code sql} that starts at {@code from}; null on error. */
    @HostAccess.Export
    public SqliteStatement prepare(String sql, int from) {
        SqlText.Statement text = SqlText.scan(sql, from);
        long ptr = 0;
        if (text.start >= 0) {
            try {
                ptr = StatementAccess.prepare(db, from == 0 && text.end == sql.length() ? sql
                        : sql.substring(text.start, text.end));
            } catch (SQLException e) {
                fail(e);
                return null;
            }
        }
        SqliteStatement st = new SqliteStatement(this, ptr, text, sql);
        statements.add(st);
        return st;
    }

    void forget(SqliteStatement st) {
        statements.remove(st);
    }

    /** Updates the transaction state after {@code text} ran. */
    void ran(SqlText.Statement text) {
        Transaction t = transaction;
        switch (text.kind) {
            case SqlText.BEGIN -> t.active = true;
            case SqlText.COMMIT, SqlText.ROLLBACK -> {
                t.active = false;
                t.savepointRoot = null;
            }
            case SqlText.SAVEPOINT -> {
                if (!t.active) {
                    t.active = true;
                    t.savepointRoot = text.name;
                }
            }
            case SqlText.RELEASE -> {
                if (t.savepointRoot != null && t.savepointRoot.equalsIgnoreCase(text.name)) {
                    t.active = false;
                    t.savepointRoot = null;
                }
            }
            default -> {
            }
        }
    }

    long lastInsertRowid() {
        return lastInsertRowid;
    }

    /** sqlite3_last_insert_rowid, which sqlite-jdbc does not expose: asked in SQL. */
    void readLastInsertRowid() throws SQLException {
        if (lastRowidQuery == 0) {
            lastRowidQuery = StatementAccess.prepare(db, "SELECT last_insert_rowid()");
        }
        if (db.step(lastRowidQuery) == Codes.SQLITE_ROW) {
            lastInsertRowid = db.column_long(lastRowidQuery, 0);
        }
        db.reset(lastRowidQuery);
    }

    /** Runs one statement without parameters or rows (BEGIN, COMMIT, ROLLBACK); returns its result code. */
    @HostAccess.Export
    public int exec(String sql) {
        SqliteStatement st = prepare(sql, 0);
        if (st == null) {
            return errorCode;
        }
        try {
            int rc = st.stepAll();
            return rc == Codes.SQLITE_DONE ? Codes.SQLITE_OK : rc;
        } finally {
            st.close();
        }
    }

    /**
     * {@code executescript}: runs every statement of {@code sql}, first passing its text to
     * {@code trace} if that is not null.
     */
    @HostAccess.Export
    public int executeScript(String sql, Value trace) {
        int from = 0;
        while (from < sql.length()) {
            SqliteStatement st = prepare(sql, from);
            if (st == null) {
                return errorCode;
            }
            try {
                if (st.text.start < 0) {
                    break;
                }
                if (trace != null && !trace.isNull()) {
                    trace.execute(st.sql());
                }
                int rc = st.stepAll();
                if (rc != Codes.SQLITE_DONE) {
                    return rc;
                }
                from = st.text.end;
            } finally {
                st.close();
            }
        }
        return Codes.SQLITE_OK;
    }

    String libVersion() throws SQLException {
        return db.libversion();
    }

    @HostAccess.Export
    public boolean inTransaction() {
        return transaction.active;
    }

    @HostAccess.Export
    public long totalChanges() throws SQLException {
        return db.total_changes();
    }

    @HostAccess.Export
    public void interrupt() throws SQLException {
        db.interrupt();
    }

    /** Closes the connection and every statement still open; returns a result code. */
    @HostAccess.Export
    public synchronized int close() {
        if (db == null) {
            return Codes.SQLITE_OK;
        }
        for (SqliteStatement st : statements.toArray(new SqliteStatement[0])) {
            st.close();
        }
        if (lastRowidQuery != 0) {
            try {
                StatementAccess.finalize(db, lastRowidQuery);
            } catch (SQLException e) {
                // nothing to report: the query cannot fail
            }
            lastRowidQuery = 0;
        }
        try {
            conn.close();
        } catch (SQLException e) {
            return fail(e);
        } finally {
            db = null;
            conn = null;
            if (registry != null) {
                registry.remove(this);
            }
        }
        return Codes.SQLITE_OK;
    }

    @HostAccess.Export
    public int limit(int id, int value) throws SQLException {
        return db.limit(id, value);
    }

    @HostAccess.Export
    public SqliteBytes serialize(String schema) {
        try {
            return new SqliteBytes(db.serialize(schema));
        } catch (SQLException e) {
            fail(e);
            return null;
        }
    }

    @HostAccess.Export
    public int deserialize(String schema, Value data) {
        byte[] bytes = new byte[(int) data.getBufferSize()];
        data.readBuffer(0, bytes, 0, bytes.length);
        try {
            db.deserialize(schema, bytes);
            return Codes.SQLITE_OK;
        } catch (SQLException e) {
            return fail(e);
        }
    }

    /**
     * Copies database {@code schema} into {@code target}'s main database: through SQLite's
     * backup API when the target is a file, as an image ({@code sqlite3_deserialize}) when it
     * is in memory.
     */
    @HostAccess.Export
    public int backupTo(SqliteDb target, String schema) {
        boolean memory = target.file.isEmpty() || target.file.equals(":memory:") || target.file.contains("mode=memory");
        try {
            if (memory) {
                byte[] image = db.serialize(schema);
                target.db.deserialize("main", image);
            } else {
                int rc = db.backup(schema, target.file, null);
                if (rc != Codes.SQLITE_OK) {
                    return fail(rc, "backup failed");
                }
            }
            return Codes.SQLITE_OK;
        } catch (SQLException e) {
            return fail(e);
        }
    }

    /**
     * Registers {@code call} (a Python callable returning an int, float, str, bytes or None)
     * as SQL function {@code name}; null {@code call} removes it.
     */
    @HostAccess.Export
    public int createFunction(String name, int nArgs, boolean deterministic, Value call) {
        try {
            if (call == null || call.isNull()) {
                Function.destroy(conn, name, nArgs);
            } else {
                Function.create(conn, name, new PythonFunction(call), nArgs,
                        deterministic ? Function.FLAG_DETERMINISTIC : 0);
            }
            return Codes.SQLITE_OK;
        } catch (SQLException e) {
            return fail(e);
        }
    }

    /**
     * Registers an aggregate: {@code create()} makes a Python object per group, {@code step(obj,
     * args)} and {@code finish(obj)} are called with it.
     */
    @HostAccess.Export
    public int createAggregate(String name, int nArgs, Value create, Value step, Value finish) {
        try {
            if (create == null || create.isNull()) {
                Function.destroy(conn, name, nArgs);
            } else {
                Function.create(conn, name, new PythonAggregate(create, step, finish), nArgs, 0);
            }
            return Codes.SQLITE_OK;
        } catch (SQLException e) {
            return fail(e);
        }
    }

    /** Registers collation {@code name} ({@code compare(a, b)} returns an int); null removes it. */
    @HostAccess.Export
    public int createCollation(String name, Value compare) {
        try {
            if (compare == null || compare.isNull()) {
                Collation.destroy(conn, name);
            } else {
                Collation.create(conn, name, new Collation() {
                    @Override
                    protected int xCompare(String a, String b) {
                        return compare.execute(a, b).asInt();
                    }
                });
            }
            return Codes.SQLITE_OK;
        } catch (SQLException e) {
            return fail(e);
        }
    }

    /** Calls {@code handler()} every {@code n} virtual machine instructions; true aborts. */
    @HostAccess.Export
    public int setProgressHandler(Value handler, int n) {
        try {
            if (handler == null || handler.isNull() || n <= 0) {
                ProgressHandler.clearHandler(conn);
            } else {
                ProgressHandler.setHandler(conn, n, new ProgressHandler() {
                    @Override
                    protected int progress() {
                        return handler.execute().asBoolean() ? 1 : 0;
                    }
                });
            }
            return Codes.SQLITE_OK;
        } catch (SQLException e) {
            return fail(e);
        }
    }

    /** SQLite's extended result codes and their names ({@code SQLITE_CONSTRAINT_UNIQUE}...), flat. */
    static Object[] errorNames() {
        SQLiteErrorCode[] codes = SQLiteErrorCode.values();
        Object[] out = new Object[codes.length * 2];
        for (int i = 0; i < codes.length; i++) {
            out[2 * i] = codes[i].code;
            out[2 * i + 1] = codes[i].name();
        }
        return out;
    }

    /**
     * Whether a transaction is open ({@code !sqlite3_get_autocommit}, which sqlite-jdbc does not
     * expose): set by the statements that open and end one, and cleared by SQLite's rollback
     * hook, which also reports the rollbacks SQLite makes itself after an error.
     */
    private static final class Transaction implements SQLiteCommitListener {
        volatile boolean active;
        String savepointRoot;

        @Override
        public void onCommit() {
        }

        @Override
        public void onRollback() {
            active = false;
            savepointRoot = null;
        }
    }

    /** A scalar SQL function calling Python; the Python wrapper raises with SQLite's message. */
    private static final class PythonFunction extends Function {
        private final Value call;

        PythonFunction(Value call) {
            this.call = call;
        }

        @Override
        protected void xFunc() throws SQLException {
            Object[] args = arguments(this);
            Value r;
            try {
                r = call.execute(args);
            } catch (PolyglotException e) {
                error(message(e, "user-defined function raised exception"));
                return;
            }
            FunctionAccess.result(this, SqliteStatement.plain(r));
        }
    }

    private static final class PythonAggregate extends Function.Aggregate {
        private final Value create, step, finish;
        private Value instance; // per group: the clone SQLite makes for it

        PythonAggregate(Value create, Value step, Value finish) {
            this.create = create;
            this.step = step;
            this.finish = finish;
        }

        private boolean ensureInstance() throws SQLException {
            if (instance == null) {
                try {
                    instance = create.execute();
                } catch (PolyglotException e) {
                    error(message(e, "user-defined aggregate's '__init__' method raised error"));
                    return false;
                }
            }
            return true;
        }

        @Override
        protected void xStep() throws SQLException {
            if (!ensureInstance()) {
                return;
            }
            Object[] args = arguments(this);
            Object[] all = new Object[args.length + 1];
            all[0] = instance;
            System.arraycopy(args, 0, all, 1, args.length);
            try {
                step.execute(all);
            } catch (PolyglotException e) {
                error(message(e, "user-defined aggregate's 'step' method raised error"));
            }
        }

        @Override
        protected void xFinal() throws SQLException {
            if (instance == null) {
                // no row reached the aggregate: NULL, as in CPython, which creates no instance
                result();
                return;
            }
            Value r;
            try {
                r = finish.execute(instance);
            } catch (PolyglotException e) {
                error(message(e, "user-defined aggregate's 'finalize' method raised error"));
                return;
            } finally {
                instance = null;
            }
            FunctionAccess.result(this, SqliteStatement.plain(r));
        }
    }

    /** The message a Python wrapper gave (a str raised as the exception's only argument), else {@code fallback}. */
    static String message(PolyglotException e, String fallback) {
        if (e.isGuestException() && !e.isCancelled() && !e.isExit()) {
            Value ex = e.getGuestObject();
            if (ex != null && ex.hasMember("args")) {
                Value args = ex.getMember("args");
                if (args.hasArrayElements() && args.getArraySize() == 1 && args.getArrayElement(0).isString()) {
                    return args.getArrayElement(0).asString();
                }
            }
        }
        return fallback;
    }

    /** The current call's arguments, BLOBs as {@link SqliteBytes}. */
    static Object[] arguments(Function f) throws SQLException {
        Object[] args = FunctionAccess.arguments(f);
        for (int i = 0; i < args.length; i++) {
            args[i] = SqliteBytes.wrap(args[i]);
        }
        return args;
    }
}
