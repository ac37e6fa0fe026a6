package dev.polypool.cluster;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Source;
import org.graalvm.polyglot.Value;

import com.hazelcast.core.HazelcastInstance;

import dev.polypool.cluster.Requests.Reply;
import dev.polypool.engine.Driver;
import dev.polypool.engine.EmbedResults;
import dev.polypool.engine.Outcome;
import dev.polypool.engine.OutcomeQueue;
import dev.polypool.engine.PolyglotRuntime;
import dev.polypool.engine.Protocol;
import dev.polypool.engine.Task;
import dev.polypool.engine.WarmContexts;
import dev.polypool.engine.WorkerPool;
import dev.polypool.io.ConsoleSink;

/**
 * A member's side of every request ({@link Requests}): the handshake and its sessions, the
 * cache of program files, and the worker slots.
 *
 * <p>A slot is a {@link WorkerPool} of one worker in this JVM, whose worker starts as a
 * script's pool worker would ({@code polypool.cluster.member_start}: the script's pickled
 * state, with its program files found in this member's cache), or as a Java
 * {@code PythonPool}'s worker ({@code polypool.cluster.member_embed_start}: the pool's
 * settings, its source directories found in the cache; results are read into Java values
 * here, by {@link EmbedResults}), and runs one task at a time for the client's remote
 * worker. What the worker prints is kept, whole lines, and goes back with the next reply. A slot takes its context from one of the member's lanes, one per
 * worker, each keeping a context warm. A worker that dies under a task is replaced within its
 * slot, as the script's local pool would replace it. The slots of a script go when it
 * disconnects.
 *
 * <p>Thread-safe: requests arrive on Hazelcast's executor threads.
 */
final class MemberService {
    private static final String KEY = "polypool";
    private static final Source MEMBER_START = Source.create("python",
            "__import__('polypool.cluster', fromlist=['member_start']).member_start");
    private static final Source MEMBER_EMBED_START = Source.create("python",
            "__import__('polypool.cluster', fromlist=['member_embed_start']).member_embed_start");

    private final ClusterSettings settings;
    private final PolyglotRuntime runtime;
    private final int workers;
    private final String description;
    private final Path cache;
    private final PrintStream log;
    // member nonce (hex) -> the client nonce it answered, until the client logs in
    private final Map<String, byte[]> challenges = new ConcurrentHashMap<>();
    // session token -> the client's uuid
    private final Map<String, String> sessions = new ConcurrentHashMap<>();
    private final Map<Integer, Slot> slots = new ConcurrentHashMap<>();
    private final AtomicInteger slotIds = new AtomicInteger();
    // one per worker of the member, each with a context kept warm; a slot takes a free one
    private final java.util.concurrent.BlockingQueue<Lane> lanes = new java.util.concurrent.LinkedBlockingQueue<>();
    private final List<Lane> allLanes = new ArrayList<>();

    MemberService(ClusterSettings settings, PolyglotRuntime runtime, int workers, String description, Path cache,
                  PrintStream log) {
        this.settings = settings;
        this.runtime = runtime;
        this.workers = workers;
        this.description = description;
        this.cache = cache;
        this.log = log;
        for (int i = 0; i < workers; i++) {
            Lane lane = new Lane();
            allLanes.add(lane);
            lanes.add(lane);
        }
    }

    /**
     * A supply of one warm context whose output goes to whichever slot holds the lane: a
     * context's streams are fixed when it is made, before anyone knows which script's slot
     * will print through them.
     */
    private final class Lane {
        final Router out = new Router();
        final Router err = new Router();
        final WarmContexts warm = new WarmContexts(runtime, List.of(""), new ConsoleSink(out), new ConsoleSink(err),
                1, null);
    }

    /** Where a lane's output goes now: the holding slot's capture, else nowhere. */
    private static final class Router extends java.io.OutputStream {
        volatile java.io.OutputStream target;

        @Override
        public void write(int b) throws IOException {
            java.io.OutputStream t = target;
            if (t != null) {
                t.write(b);
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            java.io.OutputStream t = target;
            if (t != null) {
                t.write(b, off, len);
            }
        }
    }

    /** Makes this service the one that serves requests arriving at {@code config}'s member. */
    void install(com.hazelcast.config.Config config) {
        config.getUserContext().put(KEY, this);
    }

    static MemberService of(HazelcastInstance instance) {
        return instance == null ? null : (MemberService) instance.getUserContext().get(KEY);
    }

    int workers() {
        return workers;
    }

    // ---- the handshake ----

    Reply hello(byte[] clientNonce) {
        if (clientNonce == null || clientNonce.length < 16) {
            return Reply.refused("a bad handshake");
        }
        byte[] memberNonce = Handshake.nonce();
        if (challenges.size() > 10_000) {
            challenges.clear(); // handshakes begun and never finished
        }
        challenges.put(HexFormat.of().formatHex(memberNonce), clientNonce);
        Reply r = Reply.ok();
        r.first = memberNonce;
        r.second = Handshake.proof(settings.secret(), "member", clientNonce, memberNonce);
        r.number = workers;
        r.text = description;
        return r;
    }

    Reply login(String client, byte[] clientNonce, byte[] memberNonce, byte[] proof) {
        byte[] expected = memberNonce == null ? null : challenges.remove(HexFormat.of().formatHex(memberNonce));
        if (expected == null || !Arrays.equals(expected, clientNonce)
                || !Handshake.matches(Handshake.proof(settings.secret(), "client", memberNonce, clientNonce), proof)) {
            log.println("polypool member: refused a client (" + client + "): its POLYPOOL_CLUSTER_SECRET differs");
            return Reply.refused("POLYPOOL_CLUSTER_SECRET differs from the member's");
        }
        String token = Handshake.token();
        sessions.put(token, client);
        Reply r = Reply.ok();
        r.text = token;
        return r;
    }

    /** The client with this uuid disconnected: its sessions and slots go. */
    void clientGone(String client) {
        sessions.values().removeIf(client::equals);
        for (Slot s : slots.values()) {
            if (!sessions.containsKey(s.token)) {
                closeSlot(s);
            }
        }
    }

    private boolean authorized(String token) {
        return token != null && sessions.containsKey(token);
    }

    private static Reply unauthorized() {
        return Reply.refused("no session: the handshake was not done, or failed");
    }

    // ---- program files ----

    private Path blob(String hash) {
        return cache.resolve("blobs").resolve(hash);
    }

    Reply missing(String token, String[] hashes) {
        if (!authorized(token)) {
            return unauthorized();
        }
        List<String> lacking = new ArrayList<>();
        for (String h : hashes) {
            if (!validHash(h) || !Files.isRegularFile(blob(h))) {
                lacking.add(h);
            }
        }
        Reply r = Reply.ok();
        r.list = lacking.toArray(String[]::new);
        return r;
    }

    Reply upload(String token, String hash, byte[] content) {
        if (!authorized(token)) {
            return unauthorized();
        }
        if (!validHash(hash) || !hash.equals(sha256(content))) {
            return Reply.failed("a program file does not match its hash");
        }
        try {
            Path target = blob(hash);
            Files.createDirectories(target.getParent());
            Path tmp = Files.createTempFile(target.getParent(), "upload", ".tmp");
            Files.write(tmp, content);
            moveInto(tmp, target);
            return Reply.ok();
        } catch (IOException e) {
            return Reply.failed("cannot store a program file: " + e);
        }
    }

    /**
     * The directory holding the program files {@code paths} (relative, with these content
     * hashes), made once per set of files from the cache, content-addressed like it.
     */
    private Path tree(String[] paths, String[] hashes) throws IOException {
        StringBuilder manifest = new StringBuilder();
        for (int i = 0; i < paths.length; i++) {
            manifest.append(paths[i]).append('\0').append(hashes[i]).append('\n');
        }
        Path tree = cache.resolve("trees").resolve(sha256(manifest.toString().getBytes(StandardCharsets.UTF_8)));
        if (Files.isDirectory(tree)) {
            return tree;
        }
        Files.createDirectories(tree.getParent());
        Path tmp = Files.createTempDirectory(tree.getParent(), "tree");
        for (int i = 0; i < paths.length; i++) {
            Path rel = Path.of(paths[i]).normalize();
            if (rel.isAbsolute() || rel.startsWith("..") || !validHash(hashes[i])) {
                throw new IOException("a program file outside its tree: " + paths[i]);
            }
            Path target = tmp.resolve(rel);
            Files.createDirectories(target.getParent());
            Files.copy(blob(hashes[i]), target);
        }
        moveInto(tmp, tree);
        return tree;
    }

    private static void moveInto(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            if (!Files.exists(target)) {
                deleteTree(tmp);
                throw e;
            }
            // another request made the same content first
            deleteTree(tmp);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }

    private static boolean validHash(String h) {
        return h != null && h.length() == 64 && h.chars().allMatch(c -> c >= '0' && c <= '9' || c >= 'a' && c <= 'f');
    }

    static String sha256(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- slots ----

    Reply open(Requests.Open request) throws InterruptedException {
        if (!authorized(request.token)) {
            return unauthorized();
        }
        boolean pool = request.entry == Requests.Open.POOL;
        if (!pool && !(request.entry == Requests.Open.EMBED && request.setup instanceof Object[] a && a.length == 6)) {
            return Reply.failed("a worker setup this member does not know");
        }
        Path tree;
        try {
            tree = tree(request.paths, request.hashes);
        } catch (IOException e) {
            return Reply.failed("cannot lay out the program's files: " + e);
        }
        Slot slot = new Slot(slotIds.incrementAndGet(), request, tree);
        slots.put(slot.id, slot);
        String failure = slot.awaitStart();
        Reply r = failure == null ? Reply.ok() : Reply.failed(failure);
        r.number = slot.id;
        slot.drainOutput(r);
        if (failure != null) {
            closeSlot(slot);
        }
        return r;
    }

    Reply run(Requests.Run request) throws InterruptedException {
        Slot slot = slots.get(request.slot);
        if (!authorized(request.token) || slot == null || !slot.token.equals(request.token)) {
            return authorized(request.token) ? Reply.failed("no such slot") : unauthorized();
        }
        Outcome o = slot.run(request);
        Reply r = Reply.ok();
        r.status = o.status();
        r.payload = o.payload();
        slot.drainOutput(r);
        return r;
    }

    Reply close(String token, int id) {
        Slot slot = slots.get(id);
        if (slot != null && slot.token.equals(token)) {
            closeSlot(slot);
        }
        return Reply.ok();
    }

    private void closeSlot(Slot slot) {
        if (slots.remove(slot.id) != null) {
            // terminate() waits for the worker to stop: not on the requesting thread
            Thread.ofPlatform().name("polypool-slot-close").daemon(true).start(() -> {
                slot.pool.terminate();
                if (slot.lane != null) {
                    slot.lane.out.target = null;
                    slot.lane.err.target = null;
                    lanes.add(slot.lane);
                }
            });
        }
    }

    /** Closes every slot (the member is shutting down). */
    void closeAll() {
        for (Slot s : List.copyOf(slots.values())) {
            closeSlot(s);
        }
        for (Lane l : allLanes) {
            l.warm.close();
        }
    }

    /** Output of a slot's worker, kept until the next reply. */
    private static final class Capture extends java.io.OutputStream {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            bytes.write(b);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            bytes.write(b, off, len);
        }

        synchronized byte[] take() {
            if (bytes.size() == 0) {
                return null;
            }
            byte[] b = bytes.toByteArray();
            bytes.reset();
            return b;
        }
    }

    /** One worker slot: a pool of one worker, started as the client's pool worker. */
    private final class Slot implements Driver {
        final int id;
        final int entry;
        final String token;
        final String name;
        final int identity;
        final Object setup;
        final Path tree;
        final Capture out = new Capture();
        final Capture err = new Capture();
        final OutcomeQueue decoder;
        final WorkerPool pool;
        final Lane lane;
        final CompletableFuture<String> started = new CompletableFuture<>();
        final Map<Integer, String> functions = new ConcurrentHashMap<>();
        private CompletableFuture<Outcome> pending; // guarded by this
        private boolean ended;

        Slot(int id, Requests.Open request, Path tree) {
            this.id = id;
            this.entry = request.entry;
            this.token = request.token;
            this.name = request.name;
            this.identity = request.identity;
            this.setup = request.setup;
            this.tree = tree;
            this.decoder = entry == Requests.Open.POOL ? new OutcomeQueue(setup) : null;
            // beyond the member's workers, a slot's context is made when it opens
            this.lane = lanes.poll();
            if (lane != null) {
                lane.out.target = out;
                lane.err.target = err;
                lane.warm.setArgv(List.of(request.argv));
            }
            this.pool = new WorkerPool(runtime, new WorkerPool.Config(1, 0, "polypool-slot",
                    List.of(request.argv), new ConsoleSink(out), new ConsoleSink(err),
                    lane == null ? null : lane.warm, this));
        }

        /** Waits until the worker started; returns null, or why it could not. */
        String awaitStart() throws InterruptedException {
            while (true) {
                try {
                    return started.get(200, TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    String broken = pool.brokenReason();
                    if (broken != null) {
                        return broken;
                    }
                } catch (ExecutionException e) {
                    return String.valueOf(e.getCause());
                }
            }
        }

        Outcome run(Requests.Run r) throws InterruptedException {
            String function = r.function;
            if (function != null) {
                functions.put(r.functionId, function);
            } else {
                function = functions.get(r.functionId);
            }
            CompletableFuture<Outcome> outcome = new CompletableFuture<>();
            synchronized (this) {
                if (ended) {
                    return new Outcome(r.jobId, r.index, Protocol.LOST, "the worker's slot was closed");
                }
                pending = outcome;
            }
            try {
                pool.submit(r.jobId, r.index, r.kind, function, r.plain, r.payload);
                return outcome.get();
            } catch (IllegalStateException e) {
                return new Outcome(r.jobId, r.index, Protocol.LOST, "the worker's slot was closed");
            } catch (ExecutionException e) {
                return new Outcome(r.jobId, r.index, Protocol.LOST, String.valueOf(e.getCause()));
            }
        }

        void drainOutput(Reply r) {
            r.out = out.take();
            r.err = err.take();
        }

        @Override
        public Value startWorker(WarmContexts.Prepared context, String ignoredName, int ignoredIdentity, long pid,
                                 long ppid) {
            try {
                Value runner;
                if (entry == Requests.Open.POOL) {
                    runner = context.context().eval(MEMBER_START).execute(name, identity, pid, ppid, setup,
                            tree.toString());
                } else {
                    Object[] s = (Object[]) setup;
                    runner = context.context().eval(MEMBER_EMBED_START).execute(name, identity, pid, ppid, s[0], s[1],
                            s[2], s[3], s[4], s[5], tree.toString());
                }
                started.complete(null);
                return runner;
            } catch (PolyglotException e) {
                started.complete("worker " + name + " failed to start on the member: " + e.getMessage());
                throw e;
            }
        }

        @Override
        public Outcome decode(Task task, Value result) {
            return decoder != null ? decoder.decode(task, result) : EmbedResults.decode(task, result);
        }

        @Override
        public void deliver(Outcome outcome) {
            CompletableFuture<Outcome> p;
            synchronized (this) {
                p = pending;
                pending = null;
            }
            if (p != null) {
                p.complete(outcome);
            }
        }

        @Override
        public void ended() {
            CompletableFuture<Outcome> p;
            synchronized (this) {
                ended = true;
                p = pending;
                pending = null;
            }
            if (p != null) {
                p.complete(new Outcome(-1, -1, Protocol.LOST, "the worker's slot was closed"));
            }
        }
    }
}
