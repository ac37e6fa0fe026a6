package dev.polypool;

/**
 * Exception thrown when a value cannot be converted between Java and Python: an argument
 * of a Java type that has no Python counterpart, a Python result of a type that has no Java
 * counterpart, or a result that is not of the Java type a {@link PythonFunction} asked for.
 * The conversions are listed in {@link PythonPool}.
 *
 * <p>An argument that does not convert makes the submitting call throw this exception at
 * once; a result that does not convert makes the call's future complete exceptionally with it.
 */
public class PythonConversionException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception with the given message.
     *
     * @param message what could not be converted, and to what
     */
    public PythonConversionException(String message) {
        super(message);
    }
}
