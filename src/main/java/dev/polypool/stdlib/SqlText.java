package dev.polypool.stdlib;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A lexical scan of SQL text, for what SQLite's C API would tell CPython's {@code _sqlite3}
 * but sqlite-jdbc does not expose: where the first statement ends (the tail of
 * {@code sqlite3_prepare_v2}), the names of its parameters ({@code sqlite3_bind_parameter_name},
 * numbered as SQLite numbers them), its leading keywords (DML, transaction control) and
 * whether a text is complete ({@code sqlite3_complete}). Strings, quoted identifiers and
 * comments are skipped as SQLite's tokenizer skips them; a {@code CREATE TRIGGER} ends at
 * {@code END ;}.
 */
final class SqlText {
    static final int OTHER = 0, DML = 1, QUERY = 2, BEGIN = 3, COMMIT = 4, ROLLBACK = 5, SAVEPOINT = 6,
            RELEASE = 7, ROLLBACK_TO = 8;

    /** One statement: where it starts and ends in the text, and what it is. */
    static final class Statement {
        int start = -1;   // first character that is not blank or comment, -1 if none
        int end;          // after its ';', or the end of the text
        boolean terminated;
        int kind = OTHER;
        String name;      // SAVEPOINT / RELEASE: the savepoint
        final List<String> parameters = new ArrayList<>(); // index - 1 -> name with its prefix, or null
    }

    private SqlText() {
    }

    /** The statement of {@code sql} that begins at or after {@code from}. */
    static Statement scan(String sql, int from) {
        Statement st = new Statement();
        List<String> words = new ArrayList<>(4);
        boolean trigger = false;
        boolean topLevelDml = false;
        int depth = 0;
        String lastWord = null;
        int n = sql.length();
        int i = from;
        while (i < n) {
            char c = sql.charAt(i);
            if (Character.isWhitespace(c)) {
                i++;
                continue;
            }
            if (c == '-' && i + 1 < n && sql.charAt(i + 1) == '-') {
                int nl = sql.indexOf('\n', i);
                i = nl < 0 ? n : nl + 1;
                continue;
            }
            if (c == '/' && i + 1 < n && sql.charAt(i + 1) == '*') {
                int close = sql.indexOf("*/", i + 2);
                i = close < 0 ? n : close + 2;
                continue;
            }
            if (st.start < 0) {
                st.start = i;
            }
            if (c == ';') {
                i++;
                if (!trigger || "END".equals(lastWord)) {
                    st.end = i;
                    st.terminated = true;
                    finish(st, words, topLevelDml);
                    return st;
                }
                lastWord = null;
                continue;
            }
            if (c == '\'' || c == '"' || c == '`' || c == '[') {
                char close = c == '[' ? ']' : c;
                int j = i + 1;
                StringBuilder text = new StringBuilder();
                while (j < n) {
                    char d = sql.charAt(j);
                    if (d == close) {
                        if (close != ']' && j + 1 < n && sql.charAt(j + 1) == close) {
                            text.append(d);
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    text.append(d);
                    j++;
                }
                if (c != '\'' && words.size() < 4) {
                    words.add(text.toString());
                }
                lastWord = null;
                i = Math.min(j + 1, n);
                continue;
            }
            if (c == '?') {
                int j = i + 1;
                while (j < n && Character.isDigit(sql.charAt(j))) {
                    j++;
                }
                if (j > i + 1) {
                    int index = Integer.parseInt(sql.substring(i + 1, j));
                    while (st.parameters.size() < index) {
                        st.parameters.add(null);
                    }
                } else {
                    st.parameters.add(null);
                }
                i = j;
                continue;
            }
            if ((c == ':' || c == '@' || c == '$') && i + 1 < n && isIdentifierPart(sql.charAt(i + 1))) {
                int j = i + 1;
                while (j < n && isIdentifierPart(sql.charAt(j))) {
                    j++;
                }
                String name = sql.substring(i, j);
                if (!st.parameters.contains(name)) {
                    st.parameters.add(name);
                }
                i = j;
                continue;
            }
            if (isIdentifierStart(c)) {
                int j = i + 1;
                while (j < n && isIdentifierPart(sql.charAt(j))) {
                    j++;
                }
                String word = sql.substring(i, j).toUpperCase(Locale.ROOT);
                if (words.size() < 4) {
                    words.add(word);
                    if (words.size() == 2 && "CREATE".equals(words.get(0)) && "TRIGGER".equals(word)
                            || words.size() == 3 && "CREATE".equals(words.get(0)) && "TRIGGER".equals(word)
                                    && ("TEMP".equals(words.get(1)) || "TEMPORARY".equals(words.get(1)))) {
                        trigger = true;
                    }
                }
                if (depth == 0 && (word.equals("INSERT") || word.equals("UPDATE") || word.equals("DELETE")
                        || word.equals("REPLACE"))) {
                    topLevelDml = true;
                }
                lastWord = word;
                i = j;
                continue;
            }
            if (c == '(') {
                depth++;
            } else if (c == ')') {
                depth--;
            }
            lastWord = null;
            i++;
        }
        st.end = n;
        finish(st, words, topLevelDml);
        return st;
    }

    /** {@code sqlite3_complete}: the text ends with a whole statement's semicolon. */
    static boolean complete(String sql) {
        int from = 0;
        boolean any = false;
        while (true) {
            Statement st = scan(sql, from);
            if (st.start < 0) {
                return any;
            }
            if (!st.terminated) {
                return false;
            }
            any = true;
            from = st.end;
        }
    }

    private static void finish(Statement st, List<String> words, boolean topLevelDml) {
        if (words.isEmpty()) {
            return;
        }
        String first = words.get(0);
        String second = words.size() > 1 ? words.get(1) : null;
        switch (first) {
            case "INSERT", "UPDATE", "DELETE", "REPLACE" -> st.kind = DML;
            case "SELECT", "VALUES", "EXPLAIN" -> st.kind = QUERY;
            case "WITH" -> st.kind = topLevelDml ? OTHER : QUERY;
            case "BEGIN" -> st.kind = BEGIN;
            case "COMMIT", "END" -> st.kind = COMMIT;
            case "ROLLBACK" -> st.kind = "TO".equals(second)
                    || "TRANSACTION".equals(second) && words.size() > 2 && "TO".equals(words.get(2))
                    ? ROLLBACK_TO : ROLLBACK;
            case "SAVEPOINT" -> {
                st.kind = SAVEPOINT;
                st.name = second;
            }
            case "RELEASE" -> {
                st.kind = RELEASE;
                st.name = "SAVEPOINT".equals(second) && words.size() > 2 ? words.get(2) : second;
            }
            default -> st.kind = OTHER;
        }
    }

    private static boolean isIdentifierStart(char c) {
        return Character.isLetter(c) || c == '_' || c > 0x7f;
    }

    private static boolean isIdentifierPart(char c) {
        return Character.isLetterOrDigit(c) || c == '_' || c == '$' || c > 0x7f;
    }
}
