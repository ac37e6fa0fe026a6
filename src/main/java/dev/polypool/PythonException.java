package dev.polypool;

import java.util.Objects;

/**
 * Exception thrown when a Python function called through a {@link PythonPool} raised, or
 * when its worker was lost before the call could finish.
 *
 * <p>It carries what Python knew of the failure: the exception's type name
 * ({@code "ValueError"} for a built-in, {@code "module.QualName"} otherwise), its message
 * ({@code str(exception)}) and the formatted traceback, as Python prints it. A call whose
 * worker died or could not start (for example because the pool's initializer raised)
 * fails with the type name {@value #WORKER_LOST}.
 *
 * <p>Futures returned by the pool complete exceptionally with this exception, so
 * {@link java.util.concurrent.Future#get()} throws an
 * {@link java.util.concurrent.ExecutionException} whose cause it is; the pool's blocking
 * calls ({@code map}, {@code starmap}, streams) throw it directly.
 */
public class PythonException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The type name of the failure of a call whose worker was lost. */
    public static final String WORKER_LOST = "polypool.pool.WorkerLostError";

    private final String pythonType;
    private final String pythonMessage;
    private final String pythonTraceback;

    /**
     * Creates an exception describing a Python exception.
     *
     * @param pythonType      the Python exception's type name
     * @param pythonMessage   {@code str()} of the Python exception
     * @param pythonTraceback the formatted traceback; empty when there is none
     * @throws NullPointerException if any argument is null
     */
    public PythonException(String pythonType, String pythonMessage, String pythonTraceback) {
        super(Objects.requireNonNull(pythonMessage).isEmpty() ? pythonType : pythonType + ": " + pythonMessage);
        this.pythonType = Objects.requireNonNull(pythonType);
        this.pythonMessage = pythonMessage;
        this.pythonTraceback = Objects.requireNonNull(pythonTraceback);
    }

    /**
     * Returns the Python exception's type name.
     *
     * @return the name, such as {@code "ZeroDivisionError"} or {@code "mymodule.MyError"}
     */
    public String pythonType() {
        return pythonType;
    }

    /**
     * Returns the Python exception's message.
     *
     * @return {@code str(exception)}; possibly empty
     */
    public String pythonMessage() {
        return pythonMessage;
    }

    /**
     * Returns the traceback as Python formats it ({@code traceback.format_exception}),
     * ending with the line {@code "Type: message"}.
     *
     * @return the traceback; empty when the call's worker was lost
     */
    public String pythonTraceback() {
        return pythonTraceback;
    }
}
