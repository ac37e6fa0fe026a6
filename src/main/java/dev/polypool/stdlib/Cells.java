package dev.polypool.stdlib;

/**
 * The format in which result rows cross from {@link SqliteStatement} to polypool's
 * {@code _sqlite3} module: one string per batch of rows, cell after cell, which the Python
 * side splits with a few string operations per cell.
 *
 * <ul>
 * <li>{@code N}: NULL;
 * <li>{@code I<decimal>;}: an integer; {@code F<float>;}: a real ({@link Double#toString},
 * which Python's {@code float} parses);
 * <li>{@code S<n>:<text>}: text of n code points (Python's {@code len});
 * <li>{@code B<n>:<chars>}: n bytes, one character 0-255 each; {@code T<n>:<chars>}: the
 * same for the UTF-8 bytes of a TEXT value (for a {@code text_factory}).
 * </ul>
 */
final class Cells {
    static final char NULL = 'N', INTEGER = 'I', FLOAT = 'F', TEXT = 'S', BLOB = 'B', TEXT_BYTES = 'T';

    private Cells() {
    }

    static final class Writer {
        private final StringBuilder sb = new StringBuilder(256);

        void nul() {
            sb.append(NULL);
        }

        void integer(long v) {
            sb.append(INTEGER).append(v).append(';');
        }

        void real(double v) {
            sb.append(FLOAT).append(v).append(';');
        }

        void text(String s) {
            sb.append(TEXT).append(s.codePointCount(0, s.length())).append(':').append(s);
        }

        void bytes(char kind, byte[] b) {
            int n = b == null ? 0 : b.length;
            sb.append(kind).append(n).append(':');
            for (int i = 0; i < n; i++) {
                sb.append((char) (b[i] & 0xff));
            }
        }

        @Override
        public String toString() {
            return sb.toString();
        }
    }
}
