package dev.polypool.stdlib;

import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.Value;

/**
 * Java back ends of stdlib modules that GraalPy 25.0 implements natively, published to every
 * context as {@code polyglot.import_value("polypool.stdlib")}.
 *
 * <p>GraalPy loads a native module ({@code .so}) into one context per process; polypool's
 * {@code pyexpat} module calls these methods instead, so XML parsing works in the main program
 * and in every worker. The methods keep no state between calls: each context uses them
 * independently. This class is thread-safe.
 */
public final class JavaStdlib {
    private static final JavaStdlib INSTANCE = new JavaStdlib();

    private JavaStdlib() {
    }

    /** The instance published to the contexts. */
    public static JavaStdlib get() {
        return INSTANCE;
    }

    /**
     * Parses one XML document with the JDK's SAX parser; see {@link SaxEvents}.
     *
     * @return null if the document is well-formed, else {@code [message, line, column]} of the
     *         first error (column 0-based, as expat counts)
     */
    @HostAccess.Export
    public Object[] parseXml(Value data, String encoding, String namespaceSeparator, boolean namespacePrefixes,
            boolean specifiedOnly, Value emit) {
        return SaxEvents.parse(data, encoding, namespaceSeparator, namespacePrefixes, specifiedOnly, emit);
    }
}
