package dev.polypool.cluster;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;

import com.hazelcast.client.HazelcastClient;
import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.IExecutorService;

import dev.polypool.cluster.Requests.Reply;
import dev.polypool.engine.Outcome;
import dev.polypool.engine.Protocol;
import dev.polypool.engine.RemoteWorkers;
import dev.polypool.engine.Task;
import dev.polypool.engine.Trace;
import dev.polypool.engine.WorkerPool;
import dev.polypool.io.ConsoleSink;

/**
 * A script's connection to a polypool cluster ({@code POLYPOOL_CLUSTER}), or a Java
 * {@code PythonPool}'s: a Hazelcast client of its members, each of which it has checked with
 * the {@link Handshake} before using it. It makes the {@link RemoteWorkers} of the script's
 * pools ({@link #workers}) or of the Java pool ({@link #embedWorkers}): each worker is a slot
 * on the member with the fewest of this client's slots per worker, and the program's files
 * (a script's main file and own modules, a Java pool's source directories) go to each member
 * once, by content.
 *
 * <p>A member that joins later is checked and used (a pool that follows the cluster's size
 * grows); one that fails the check is ignored with a message. A member that leaves takes its
 * slots with it: their workers are told, and their tasks run again elsewhere
 * ({@link WorkerPool}).
 *
 * <p>Thread-safe.
 */
public final class ClusterClient implements AutoCloseable {
    /** The handshake failed, or no member could be reached: the script must not run. */
    public static final class Refused extends Exception {
        // the member did not answer, rather than refuse
        final boolean unanswered;

        Refused(String message) {
            this(message, false);
        }

        Refused(String message, boolean unanswered) {
            super(message);
            this.unanswered = unanswered;
        }

        /** Whether no member answered (or none could be asked), rather than one refused the secret. */
        public boolean unanswered() {
            return unanswered;
        }
    }

    /** A verified member and this script's session there. */
    private static final class Link {
        final Member member;
        final String token;
        final int workers;
        final AtomicInteger slots = new AtomicInteger();
        final Set<RemoteSlot> open = ConcurrentHashMap.newKeySet();
        volatile boolean alive = true;

        Link(Member member, String token, int workers) {
            this.member = member;
            this.token = token;
            this.workers = workers;
        }

        String where() {
            return member.getAddress().getHost() + ":" + member.getAddress().getPort();
        }
    }

    private final ClusterSettings settings;
    private final HazelcastInstance client;
    private final IExecutorService executor;
    private final PrintStream messages;
    private final Map<UUID, Link> links = new ConcurrentHashMap<>();
    private final List<ClusterPool> following = new CopyOnWriteArrayList<>();

    private ClusterClient(ClusterSettings settings, HazelcastInstance client, PrintStream messages) {
        this.settings = settings;
        this.client = client;
        this.executor = client.getExecutorService(ClusterSettings.EXECUTOR);
        this.messages = messages;
    }

    /**
     * Connects to the cluster at {@code addresses} and checks every member.
     *
     * @param messages where later events go (a member ignored); the script's stderr
     * @throws Refused if no member answers within the timeout, or one refuses this script's secret
     */
    public static ClusterClient connect(List<InetSocketAddress> addresses, ClusterSettings settings,
                                        long timeoutMillis, PrintStream messages) throws Refused {
        return connect(addresses, settings, timeoutMillis, messages, " (POLYPOOL_CLUSTER, POLYPOOL_CLUSTER_NAME)");
    }

    /**
     * As {@link #connect(List, ClusterSettings, long, PrintStream)}, for a client whose
     * settings come from elsewhere than the environment.
     *
     * @param settingsHint appended to the message of a cluster that did not answer: where the
     *                     addresses and the name were set
     */
    public static ClusterClient connect(List<InetSocketAddress> addresses, ClusterSettings settings,
                                        long timeoutMillis, PrintStream messages, String settingsHint) throws Refused {
        ClusterSettings.quietLogging(Trace.ENABLED ? Level.INFO : Level.OFF);
        HazelcastInstance hz;
        try {
            hz = HazelcastClient.newHazelcastClient(settings.clientConfig(addresses, timeoutMillis));
        } catch (RuntimeException e) {
            throw new Refused("no polypool cluster named '" + settings.name() + "' answered at "
                    + addresses.stream().map(ClusterSettings::format).toList() + " within " + timeoutMillis / 1000
                    + " s" + settingsHint, true);
        }
        ClusterClient c = new ClusterClient(settings, hz, messages);
        try {
            for (Member m : hz.getCluster().getMembers()) {
                c.links.put(m.getUuid(), c.verify(m));
            }
        } catch (Refused e) {
            hz.shutdown();
            throw e;
        }
        hz.getCluster().addMembershipListener(c.new Listener());
        return c;
    }

    /** The number of workers of the cluster's verified members. */
    public int workers() {
        int n = 0;
        for (Link l : links.values()) {
            n += l.alive ? l.workers : 0;
        }
        return n;
    }

    /**
     * The remote workers of one pool.
     *
     * @param setup  the parent's state for the workers, as for a local pool
     * @param follow whether the pool has one worker per worker of the cluster, growing and
     *               shrinking with it, rather than a fixed number
     * @param argv   {@code sys.argv} of the workers
     * @param files  the program's files, relative path to content, to be found by the workers
     */
    public RemoteWorkers workers(Object setup, boolean follow, List<String> argv, Map<String, byte[]> files,
                                 ConsoleSink stdout, ConsoleSink stderr) {
        return new ClusterPool(Requests.Open.POOL, setup, follow, argv, files, stdout, stderr);
    }

    /**
     * The remote workers of a Java {@code PythonPool}, whose workers start in
     * {@code polypool.embed} and whose outcomes come back as {@link dev.polypool.engine.EmbedResults}
     * values.
     *
     * @param setup  {@code polypool.embed.start}'s arguments after the parent's pid: the start
     *               method, the source directories (as directories of {@code files}), the source
     *               modules, the modules to import, the initializer and its argument tokens
     * @param follow as for {@link #workers}
     * @param files  the files of the source directories, relative path to content
     */
    public RemoteWorkers embedWorkers(Object[] setup, boolean follow, Map<String, byte[]> files, ConsoleSink stdout,
                                      ConsoleSink stderr) {
        return new ClusterPool(Requests.Open.EMBED, setup, follow, List.of(""), files, stdout, stderr);
    }

    @Override
    public void close() {
        try {
            client.shutdown();
        } catch (RuntimeException ignored) {
            // shutting down a client whose cluster is gone
        }
    }

    // ---- the handshake ----

    private Link verify(Member m) throws Refused {
        String where = m.getAddress().getHost() + ":" + m.getAddress().getPort();
        Session s = handshake(executor, m, client.getLocalEndpoint().getUuid().toString(), settings.secret(), where);
        return new Link(m, s.token, s.workers);
    }

    /** A session on one member. */
    record Session(String token, int workers) {
    }

    /**
     * Does the handshake with {@code member} through {@code executor} (a client's or a
     * member's), as {@code self}.
     *
     * @throws Refused if either side does not know the other's secret, or the member cannot be asked
     */
    static Session handshake(IExecutorService executor, Member member, String self, String secret, String where)
            throws Refused {
        byte[] clientNonce = Handshake.nonce();
        Reply hello = ask(executor, new Requests.Hello(clientNonce), member, where);
        if (hello.code != Reply.OK
                || !Handshake.matches(Handshake.proof(secret, "member", clientNonce, hello.first), hello.second)) {
            throw new Refused("the polypool member at " + where + " refused the handshake: its POLYPOOL_CLUSTER_SECRET "
                    + "differs from this one's");
        }
        Reply login = ask(executor, new Requests.Login(self, clientNonce, hello.first,
                Handshake.proof(secret, "client", hello.first, clientNonce)), member, where);
        if (login.code != Reply.OK) {
            throw new Refused("the polypool member at " + where + " refused this one: " + login.text);
        }
        return new Session(login.text, hello.number);
    }

    private static Reply ask(IExecutorService executor, Requests.Request r, Member member, String where)
            throws Refused {
        try {
            return executor.submitToMember(r, member).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Refused("interrupted while asking the member at " + where);
        } catch (ExecutionException | RuntimeException e) {
            throw new Refused("the polypool member at " + where + " did not answer: " + rootMessage(e), true);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
        return t.getClass().getSimpleName() + (t.getMessage() != null ? ": " + t.getMessage() : "");
    }

    /** Asks a member; a failure to get an answer means the member is gone. */
    private Reply call(Link link, Requests.Request r) throws RemoteWorkers.MemberLost, InterruptedException {
        if (!link.alive) {
            throw new RemoteWorkers.MemberLost("the member at " + link.where() + " left");
        }
        try {
            return executor.submitToMember(r, link.member).get();
        } catch (ExecutionException | RuntimeException e) {
            lose(link);
            throw new RemoteWorkers.MemberLost("the member at " + link.where() + " is gone (" + rootMessage(e) + ")");
        }
    }

    private void lose(Link link) {
        if (links.remove(link.member.getUuid(), link)) {
            messages.println("polypool: the cluster member at " + link.where() + " is gone; its tasks run again elsewhere");
        }
        link.alive = false;
        for (RemoteSlot s : link.open) {
            s.lost.run();
        }
    }

    private final class Listener implements MembershipListener {
        @Override
        public void memberAdded(MembershipEvent event) {
            Member m = event.getMember();
            Thread.ofPlatform().name("polypool-cluster-join").daemon(true).start(() -> {
                // the client may learn of a member before it can send it anything: it tries
                // again while the member stays in the cluster, for a minute at most
                for (int attempt = 0; ; attempt++) {
                    try {
                        Link link = verify(m);
                        links.put(m.getUuid(), link);
                        for (ClusterPool p : following) {
                            p.grow();
                        }
                        return;
                    } catch (Refused e) {
                        if (!e.unanswered || attempt >= 120 || !client.getCluster().getMembers().contains(m)) {
                            messages.println("polypool: ignoring a member that joined the cluster: " + e.getMessage());
                            return;
                        }
                    }
                    try {
                        Thread.sleep(500);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }

        @Override
        public void memberRemoved(MembershipEvent event) {
            Link link = links.get(event.getMember().getUuid());
            if (link != null) {
                lose(link);
            }
        }
    }

    // ---- one pool's workers ----

    private final class ClusterPool implements RemoteWorkers {
        final int entry;
        final Object setup;
        final boolean follow;
        final String[] argv;
        final String[] paths;
        final String[] hashes;
        final Map<String, byte[]> byHash = new HashMap<>();
        final ConsoleSink stdout;
        final ConsoleSink stderr;
        final Set<UUID> uploaded = ConcurrentHashMap.newKeySet();
        volatile WorkerPool pool;

        ClusterPool(int entry, Object setup, boolean follow, List<String> argv, Map<String, byte[]> files,
                    ConsoleSink stdout, ConsoleSink stderr) {
            this.entry = entry;
            this.setup = setup;
            this.follow = follow;
            this.argv = argv.toArray(String[]::new);
            this.stdout = stdout;
            this.stderr = stderr;
            List<String> p = new ArrayList<>(files.keySet());
            java.util.Collections.sort(p);
            this.paths = p.toArray(String[]::new);
            this.hashes = new String[paths.length];
            for (int i = 0; i < paths.length; i++) {
                hashes[i] = MemberService.sha256(files.get(paths[i]));
                byHash.put(hashes[i], files.get(paths[i]));
            }
        }

        @Override
        public void attach(WorkerPool pool) {
            this.pool = pool;
            if (follow) {
                following.add(this);
            }
        }

        void grow() {
            WorkerPool p = pool;
            int missing = workers() - p.workerCount();
            if (missing > 0) {
                p.grow(missing);
            }
        }

        @Override
        public Slot open(String name, int identity, Runnable lost) throws Unavailable, InterruptedException {
            while (true) {
                int capacity = workers();
                if (capacity == 0) {
                    throw new Unavailable("no polypool cluster member is left to run the pool's tasks");
                }
                if (follow && pool != null && pool.workerCount() > capacity) {
                    return null;
                }
                Link link = pick();
                if (link == null) {
                    continue;
                }
                try {
                    return open(link, name, identity, lost);
                } catch (MemberLost e) {
                    link.slots.decrementAndGet();
                    // pick another member
                }
            }
        }

        /** The live member with the fewest slots per worker, its slot count raised by one. */
        private Link pick() {
            Link best = null;
            double load = Double.MAX_VALUE;
            for (Link l : links.values()) {
                double d = (l.slots.get() + 1.0) / l.workers;
                if (l.alive && d < load) {
                    best = l;
                    load = d;
                }
            }
            if (best != null) {
                best.slots.incrementAndGet();
            }
            return best;
        }

        private Slot open(Link link, String name, int identity, Runnable lost)
                throws MemberLost, Unavailable, InterruptedException {
            if (!uploaded.contains(link.member.getUuid())) {
                Reply missing = call(link, new Requests.Missing(link.token, hashes));
                check(missing, link);
                for (String h : missing.list) {
                    check(call(link, new Requests.Upload(link.token, h, byHash.get(h))), link);
                }
                uploaded.add(link.member.getUuid());
            }
            Reply r = call(link, new Requests.Open(link.token, entry, name, identity, argv, setup, paths, hashes));
            RemoteSlot slot = new RemoteSlot(link, r.number, lost, stdout.newLineStream(), stderr.newLineStream());
            slot.print(r);
            if (r.code != Reply.OK) {
                link.slots.decrementAndGet();
                throw new Unavailable(r.text);
            }
            link.open.add(slot);
            if (!link.alive) {
                lost.run();
            }
            return slot;
        }

        private void check(Reply r, Link link) throws Unavailable {
            if (r.code != Reply.OK) {
                link.slots.decrementAndGet();
                throw new Unavailable("the member at " + link.where() + ": " + r.text);
            }
        }
    }

    /** A worker slot on a member, seen from the script. */
    private final class RemoteSlot implements RemoteWorkers.Slot {
        final Link link;
        final int id;
        final Runnable lost;
        final OutputStream out;
        final OutputStream err;
        final AtomicBoolean closed = new AtomicBoolean();
        // functions this slot's member knows, by the number it knows them by; one thread uses it
        final Map<String, Integer> functions = new HashMap<>();

        RemoteSlot(Link link, int id, Runnable lost, OutputStream out, OutputStream err) {
            this.link = link;
            this.id = id;
            this.lost = lost;
            this.out = out;
            this.err = err;
        }

        @Override
        public Outcome run(Task task) throws RemoteWorkers.MemberLost, InterruptedException {
            Requests.Run r = new Requests.Run();
            r.token = link.token;
            r.slot = id;
            r.jobId = task.jobId();
            r.index = task.index();
            r.kind = task.kind();
            r.plain = task.plain();
            r.payload = task.payload();
            if (task.function() != null) {
                Integer known = functions.get(task.function());
                if (known == null) {
                    known = functions.size() + 1;
                    functions.put(task.function(), known);
                    r.function = task.function();
                }
                r.functionId = known;
            }
            Reply reply = call(link, r);
            print(reply);
            if (reply.code != Reply.OK) {
                return new Outcome(task.jobId(), task.index(), Protocol.LOST, reply.text);
            }
            return new Outcome(task.jobId(), task.index(), reply.status, reply.payload);
        }

        void print(Reply r) {
            try {
                if (r.out != null) {
                    out.write(r.out);
                    out.flush();
                }
                if (r.err != null) {
                    err.write(r.err);
                    err.flush();
                }
            } catch (IOException ignored) {
                // the script's console is gone
            }
        }

        @Override
        public void close() {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            link.open.remove(this);
            link.slots.decrementAndGet();
            if (link.alive) {
                try {
                    executor.submitToMember(new Requests.Close(link.token, id), link.member);
                } catch (RuntimeException ignored) {
                    // the member is going; its slots go with it
                }
            }
        }
    }
}
