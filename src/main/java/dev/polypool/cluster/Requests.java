package dev.polypool.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.DataSerializableFactory;
import com.hazelcast.nio.serialization.IdentifiedDataSerializable;

import dev.polypool.engine.EmbedResults;
import dev.polypool.sync.Blob;

/**
 * What a script (or a joining member) asks of a member, sent through Hazelcast's executor
 * to one member and run there by its {@link MemberService}; every answer is a {@link Reply}.
 * Each request is an {@link IdentifiedDataSerializable}, so no Java deserialization is
 * involved. Every request but the handshake's carries the session token of {@link Handshake};
 * a member refuses one whose token it did not hand out.
 */
final class Requests {
    static final int FACTORY_ID = 0x706f6f6c; // "pool"

    private static final int REPLY = 1;
    private static final int HELLO = 2;
    private static final int LOGIN = 3;
    private static final int MISSING = 4;
    private static final int UPLOAD = 5;
    private static final int OPEN = 6;
    private static final int RUN = 7;
    private static final int CLOSE = 8;

    private Requests() {
    }

    static final class Factory implements DataSerializableFactory {
        @Override
        public IdentifiedDataSerializable create(int typeId) {
            return switch (typeId) {
                case REPLY -> new Reply();
                case HELLO -> new Hello();
                case LOGIN -> new Login();
                case MISSING -> new Missing();
                case UPLOAD -> new Upload();
                case OPEN -> new Open();
                case RUN -> new Run();
                case CLOSE -> new Close();
                default -> null;
            };
        }
    }

    /** Text that is mostly Latin-1 (pickles) crosses as one byte a character when it can. */
    static void writeText(ObjectDataOutput out, String s) throws IOException {
        if (s == null) {
            out.writeByte(0);
        } else if (isLatin1(s)) {
            out.writeByte(1);
            out.writeByteArray(s.getBytes(StandardCharsets.ISO_8859_1));
        } else {
            out.writeByte(2);
            out.writeString(s);
        }
    }

    static String readText(ObjectDataInput in) throws IOException {
        return switch (in.readByte()) {
            case 0 -> null;
            case 1 -> new String(in.readByteArray(), StandardCharsets.ISO_8859_1);
            default -> in.readString();
        };
    }

    private static boolean isLatin1(String s) {
        for (int i = 0, n = s.length(); i < n; i++) {
            if (s.charAt(i) > 0xff) {
                return false;
            }
        }
        return true;
    }

    /**
     * A task's payload, a result or a setup: a plain value (see {@code Task#plain}), text, a
     * {@link Blob}, a Java API call's failure, or what Hazelcast serializes itself (the Java
     * API's token arrays and result values: boxes, strings, arrays, {@code ArrayList},
     * {@code HashMap}).
     */
    static void writeValue(ObjectDataOutput out, Object v) throws IOException {
        if (v instanceof String s) {
            out.writeByte(VALUE_TEXT);
            writeText(out, s);
        } else if (v instanceof Blob b) {
            out.writeByte(VALUE_BLOB);
            writeBlob(out, b);
        } else if (v instanceof EmbedResults.Failure f) {
            out.writeByte(VALUE_FAILURE);
            out.writeBoolean(f.unconvertible());
            out.writeString(f.type());
            writeText(out, f.message());
            writeText(out, f.traceback());
        } else {
            out.writeByte(VALUE_OBJECT);
            out.writeObject(v);
        }
    }

    static Object readValue(ObjectDataInput in) throws IOException {
        return switch (in.readByte()) {
            case VALUE_TEXT -> readText(in);
            case VALUE_BLOB -> readBlob(in);
            case VALUE_FAILURE -> new EmbedResults.Failure(in.readBoolean(), in.readString(), readText(in),
                    readText(in));
            default -> in.readObject();
        };
    }

    private static void writeBlob(ObjectDataOutput out, Blob b) throws IOException {
        out.writeBoolean(b.raw());
        out.writeBoolean(b.readOnce());
        out.writeByteArray(b.bytes());
        out.writeInt(b.parts());
        for (int i = 0; i < b.parts(); i++) {
            writeBlob(out, b.part(i));
        }
    }

    private static Blob readBlob(ObjectDataInput in) throws IOException {
        boolean raw = in.readBoolean();
        boolean readOnce = in.readBoolean();
        byte[] bytes = in.readByteArray();
        Blob[] parts = new Blob[in.readInt()];
        for (int i = 0; i < parts.length; i++) {
            parts[i] = readBlob(in);
        }
        return Blob.of(bytes, raw, readOnce, parts);
    }

    private static final byte VALUE_OBJECT = 0;
    private static final byte VALUE_TEXT = 1;
    private static final byte VALUE_BLOB = 2;
    private static final byte VALUE_FAILURE = 3;

    /** The base of every request: found on the member, run by its {@link MemberService}. */
    abstract static class Request implements Callable<Reply>, IdentifiedDataSerializable, HazelcastInstanceAware {
        String token;
        private transient HazelcastInstance instance;

        @Override
        public final void setHazelcastInstance(HazelcastInstance instance) {
            this.instance = instance;
        }

        @Override
        public final int getFactoryId() {
            return FACTORY_ID;
        }

        @Override
        public final Reply call() {
            MemberService service = MemberService.of(instance);
            if (service == null) {
                return Reply.refused("this member does not serve polypool requests");
            }
            try {
                return serve(service);
            } catch (RuntimeException | InterruptedException e) {
                // an exception would cross as Java serialization, which members refuse
                return Reply.failed("the member failed: " + e);
            }
        }

        abstract Reply serve(MemberService service) throws InterruptedException;

        @Override
        public final void writeData(ObjectDataOutput out) throws IOException {
            out.writeString(token);
            write(out);
        }

        @Override
        public final void readData(ObjectDataInput in) throws IOException {
            token = in.readString();
            read(in);
        }

        abstract void write(ObjectDataOutput out) throws IOException;

        abstract void read(ObjectDataInput in) throws IOException;
    }

    /** The answer to every request. */
    static final class Reply implements IdentifiedDataSerializable {
        static final int OK = 0;
        static final int REFUSED = 1; // the handshake or the token failed
        static final int FAILED = 2;  // the worker could not start, or the member failed

        int code;
        String text;
        byte[] first;
        byte[] second;
        int number;
        String[] list;
        int status;
        Object payload;
        byte[] out;
        byte[] err;

        static Reply ok() {
            return new Reply();
        }

        static Reply refused(String text) {
            Reply r = new Reply();
            r.code = REFUSED;
            r.text = text;
            return r;
        }

        static Reply failed(String text) {
            Reply r = new Reply();
            r.code = FAILED;
            r.text = text;
            return r;
        }

        @Override
        public int getFactoryId() {
            return FACTORY_ID;
        }

        @Override
        public int getClassId() {
            return REPLY;
        }

        @Override
        public void writeData(ObjectDataOutput o) throws IOException {
            o.writeInt(code);
            o.writeString(text);
            o.writeByteArray(first);
            o.writeByteArray(second);
            o.writeInt(number);
            o.writeStringArray(list);
            o.writeInt(status);
            writeValue(o, payload);
            o.writeByteArray(out);
            o.writeByteArray(err);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            code = in.readInt();
            text = in.readString();
            first = in.readByteArray();
            second = in.readByteArray();
            number = in.readInt();
            list = in.readStringArray();
            status = in.readInt();
            payload = readValue(in);
            out = in.readByteArray();
            err = in.readByteArray();
        }
    }

    /** The handshake's first step: the client's nonce; the member proves it knows the secret. */
    static final class Hello extends Request {
        byte[] clientNonce;

        Hello() {
        }

        Hello(byte[] clientNonce) {
            this.token = "";
            this.clientNonce = clientNonce;
        }

        @Override
        public int getClassId() {
            return HELLO;
        }

        @Override
        Reply serve(MemberService service) {
            return service.hello(clientNonce);
        }

        @Override
        void write(ObjectDataOutput out) throws IOException {
            out.writeByteArray(clientNonce);
        }

        @Override
        void read(ObjectDataInput in) throws IOException {
            clientNonce = in.readByteArray();
        }
    }

    /** The handshake's second step: the client proves it knows the secret; a token comes back. */
    static final class Login extends Request {
        String client;
        byte[] clientNonce;
        byte[] memberNonce;
        byte[] proof;

        Login() {
        }

        Login(String client, byte[] clientNonce, byte[] memberNonce, byte[] proof) {
            this.token = "";
            this.client = client;
            this.clientNonce = clientNonce;
            this.memberNonce = memberNonce;
            this.proof = proof;
        }

        @Override
        public int getClassId() {
            return LOGIN;
        }

        @Override
        Reply serve(MemberService service) {
            return service.login(client, clientNonce, memberNonce, proof);
        }

        @Override
        void write(ObjectDataOutput out) throws IOException {
            out.writeString(client);
            out.writeByteArray(clientNonce);
            out.writeByteArray(memberNonce);
            out.writeByteArray(proof);
        }

        @Override
        void read(ObjectDataInput in) throws IOException {
            client = in.readString();
            clientNonce = in.readByteArray();
            memberNonce = in.readByteArray();
            proof = in.readByteArray();
        }
    }

    /** Which of these program files (by content hash) the member lacks. */
    static final class Missing extends Request {
        String[] hashes;

        Missing() {
        }

        Missing(String token, String[] hashes) {
            this.token = token;
            this.hashes = hashes;
        }

        @Override
        public int getClassId() {
            return MISSING;
        }

        @Override
        Reply serve(MemberService service) {
            return service.missing(token, hashes);
        }

        @Override
        void write(ObjectDataOutput out) throws IOException {
            out.writeStringArray(hashes);
        }

        @Override
        void read(ObjectDataInput in) throws IOException {
            hashes = in.readStringArray();
        }
    }

    /** One program file for the member's cache. */
    static final class Upload extends Request {
        String hash;
        byte[] content;

        Upload() {
        }

        Upload(String token, String hash, byte[] content) {
            this.token = token;
            this.hash = hash;
            this.content = content;
        }

        @Override
        public int getClassId() {
            return UPLOAD;
        }

        @Override
        Reply serve(MemberService service) {
            return service.upload(token, hash, content);
        }

        @Override
        void write(ObjectDataOutput out) throws IOException {
            out.writeString(hash);
            out.writeByteArray(content);
        }

        @Override
        void read(ObjectDataInput in) throws IOException {
            hash = in.readString();
            content = in.readByteArray();
        }
    }

    /**
     * Start a worker in a slot of the member: its number comes back once it started. The
     * worker is a Python pool's ({@link #POOL}: {@code setup} is the pickled state of
     * {@code polypool.childstate}) or a Java {@code PythonPool}'s ({@link #EMBED}:
     * {@code setup} is {@code polypool.embed.start}'s arguments after the identity, the
     * source directories as paths within the program's files).
     */
    static final class Open extends Request {
        static final int POOL = 0;
        static final int EMBED = 1;

        int entry;
        String name;
        int identity;
        String[] argv;
        Object setup; // POOL: text, or a Blob when large; EMBED: an Object[]
        String[] paths;
        String[] hashes;

        Open() {
        }

        Open(String token, int entry, String name, int identity, String[] argv, Object setup, String[] paths,
             String[] hashes) {
            this.token = token;
            this.entry = entry;
            this.name = name;
            this.identity = identity;
            this.argv = argv;
            this.setup = setup;
            this.paths = paths;
            this.hashes = hashes;
        }

        @Override
        public int getClassId() {
            return OPEN;
        }

        @Override
        Reply serve(MemberService service) throws InterruptedException {
            return service.open(this);
        }

        @Override
        void write(ObjectDataOutput out) throws IOException {
            out.writeInt(entry);
            out.writeString(name);
            out.writeInt(identity);
            out.writeStringArray(argv);
            writeValue(out, setup);
            out.writeStringArray(paths);
            out.writeStringArray(hashes);
        }

        @Override
        void read(ObjectDataInput in) throws IOException {
            entry = in.readInt();
            name = in.readString();
            identity = in.readInt();
            argv = in.readStringArray();
            setup = readValue(in);
            paths = in.readStringArray();
            hashes = in.readStringArray();
        }
    }

    /**
     * Run one task in a slot. The function travels once per slot: later tasks name it by
     * number ({@code function} null).
     */
    static final class Run extends Request {
        int slot;
        long jobId;
        int index;
        int kind;
        int functionId;
        String function;
        boolean plain;
        Object payload;

        Run() {
        }

        @Override
        public int getClassId() {
            return RUN;
        }

        @Override
        Reply serve(MemberService service) throws InterruptedException {
            return service.run(this);
        }

        @Override
        void write(ObjectDataOutput out) throws IOException {
            out.writeInt(slot);
            out.writeLong(jobId);
            out.writeInt(index);
            out.writeInt(kind);
            out.writeInt(functionId);
            writeText(out, function);
            out.writeBoolean(plain);
            writeValue(out, payload);
        }

        @Override
        void read(ObjectDataInput in) throws IOException {
            slot = in.readInt();
            jobId = in.readLong();
            index = in.readInt();
            kind = in.readInt();
            functionId = in.readInt();
            function = readText(in);
            plain = in.readBoolean();
            payload = readValue(in);
        }
    }

    /** Close a slot, cancelling what its worker runs. */
    static final class Close extends Request {
        int slot;

        Close() {
        }

        Close(String token, int slot) {
            this.token = token;
            this.slot = slot;
        }

        @Override
        public int getClassId() {
            return CLOSE;
        }

        @Override
        Reply serve(MemberService service) {
            return service.close(token, slot);
        }

        @Override
        void write(ObjectDataOutput out) throws IOException {
            out.writeInt(slot);
        }

        @Override
        void read(ObjectDataInput in) throws IOException {
            slot = in.readInt();
        }
    }
}
