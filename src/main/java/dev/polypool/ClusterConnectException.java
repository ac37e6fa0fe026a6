package dev.polypool;

/**
 * Exception thrown by {@link PythonPool.Builder#build()} when a pool built with
 * {@link PythonPool.Builder#cluster cluster(...)} cannot use the cluster: a member refused the
 * pool's secret, or no member of a cluster of that name answered at the addresses given in
 * time. Nothing of the pool is left running.
 */
public class ClusterConnectException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final boolean refused;

    /**
     * Creates the exception.
     *
     * @param message what failed, naming the member or the addresses
     * @param refused whether a member refused the handshake, rather than no member answered
     */
    public ClusterConnectException(String message, boolean refused) {
        super(message);
        this.refused = refused;
    }

    /**
     * Returns whether a member answered and refused the pool: its secret differs from the
     * pool's (or the member failed the pool's check of its own secret).
     *
     * @return true for a refusal; false when no member answered (wrong addresses or cluster
     *         name, members down, a network in the way)
     */
    public boolean refused() {
        return refused;
    }
}
