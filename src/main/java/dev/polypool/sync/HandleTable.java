package dev.polypool.sync;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.graalvm.polyglot.HostAccess;

/**
 * The pipe handles one context holds, closed together when it ends, as a process's file
 * descriptors close when it exits: that is how a reader in another context sees end of file
 * after a child that held the writer exited, was terminated or crashed.
 *
 * <p>Every context has one, published as {@code polyglot.import_value("polypool.handles")}
 * (see {@link SyncServices#attach}). A <em>transit</em> table (from
 * {@link SyncServices#newHandleTable()}) holds what a child being started inherits: a copy
 * of each of the parent's handles, made when the child's state is pickled so that the
 * parent closing its own handle meanwhile cannot end the pipe. A process adopts those
 * copies and the engine closes the table when the process ends; a pool's workers duplicate
 * them, and the engine closes the table when the pool ends.
 *
 * <p>Each handle has at most one owner. Thread-safe.
 */
public final class HandleTable {
    /** Guards every table's contents and every handle's owner (ownership changes are rare). */
    static final Object OWNERSHIP = new Object();

    private final boolean transit;
    private final Set<PipeHandle> handles = new LinkedHashSet<>();
    /** Transit tables: the parent's handle to the copy the child inherits. */
    private final Map<PipeHandle, PipeHandle> inherited = new HashMap<>();
    private boolean closed;

    HandleTable(boolean transit) {
        this.transit = transit;
    }

    /**
     * A new pipe whose two ends are open in this table: {@code [end 0, end 1]}; with
     * {@code duplex = false}, end 0 only receives and end 1 only sends.
     */
    @HostAccess.Export
    public PipeHandle[] newPipe(boolean duplex) {
        SharedPipe pipe = new SharedPipe(duplex);
        PipeHandle[] ends = {pipe.open(0), pipe.open(1)};
        take(ends[0]);
        take(ends[1]);
        return ends;
    }

    /**
     * Makes this table the owner of {@code handle}, which must be owned by no table or by a
     * transit table (a handle sent to, or inherited by, this context).
     *
     * @return {@code handle}, or null if another context owns it or it is closed
     */
    @HostAccess.Export
    public PipeHandle adopt(PipeHandle handle) {
        synchronized (OWNERSHIP) {
            HandleTable previous = handle.owner;
            if (previous == this) {
                return handle;
            }
            if (previous != null && !previous.transit || handle.pipe().isClosed(handle)) {
                return null;
            }
            if (previous != null) {
                previous.handles.remove(handle);
            }
        }
        return take(handle) ? handle : null;
    }

    /** A new handle of the same pipe end as {@code handle}, owned by this table; null if {@code handle} is closed. */
    @HostAccess.Export
    public PipeHandle duplicate(PipeHandle handle) {
        PipeHandle copy = handle.pipe().duplicate(handle);
        return copy != null && take(copy) ? copy : null;
    }

    /**
     * Transit tables: the copy of the parent's {@code handle} that the child inherits, made
     * on first request; null if {@code handle} is closed.
     */
    @HostAccess.Export
    public PipeHandle inherit(PipeHandle handle) {
        synchronized (OWNERSHIP) {
            PipeHandle copy = inherited.get(handle);
            if (copy != null) {
                return copy;
            }
        }
        PipeHandle copy = duplicate(handle);
        if (copy != null) {
            synchronized (OWNERSHIP) {
                PipeHandle raced = inherited.putIfAbsent(handle, copy);
                if (raced != null) {
                    copy.close();
                    return raced;
                }
            }
        }
        return copy;
    }

    /**
     * Transit tables: inherit every handle {@code parent} holds, as a forked child inherits
     * every file descriptor of its parent.
     */
    @HostAccess.Export
    public void inheritAll(HandleTable parent) {
        List<PipeHandle> snapshot;
        synchronized (OWNERSHIP) {
            snapshot = new ArrayList<>(parent.handles);
        }
        for (PipeHandle h : snapshot) {
            inherit(h);
        }
    }

    /** Closes every handle this table holds, now and later; idempotent. */
    @HostAccess.Export
    public void closeAll() {
        List<PipeHandle> snapshot;
        synchronized (OWNERSHIP) {
            closed = true;
            snapshot = new ArrayList<>(handles);
        }
        for (PipeHandle h : snapshot) {
            h.close();
        }
    }

    /** The number of open handles this table holds. */
    int size() {
        synchronized (OWNERSHIP) {
            return handles.size();
        }
    }

    /** Removes a handle that was closed from its owner. */
    static void forget(PipeHandle handle) {
        synchronized (OWNERSHIP) {
            if (handle.owner != null) {
                handle.owner.handles.remove(handle);
                handle.owner = null;
            }
        }
    }

    // false, and the handle closed, if this table is closed already (its context has ended)
    private boolean take(PipeHandle handle) {
        synchronized (OWNERSHIP) {
            if (!closed) {
                handle.owner = this;
                handles.add(handle);
                return true;
            }
        }
        handle.close();
        return false;
    }
}
