package dev.polypool.cluster;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The challenge-response that Hazelcast's open-source edition lacks: each side proves it
 * knows the cluster's secret without sending it. A client sends a nonce; the member answers
 * with a nonce of its own and {@code HMAC(secret, "member" | client nonce | member nonce)};
 * the client checks that, then sends {@code HMAC(secret, "client" | member nonce | client
 * nonce)}, and a member that accepts it hands out a random session token that every later
 * request carries. Fresh nonces on both sides: a recorded exchange proves nothing later.
 */
final class Handshake {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Handshake() {
    }

    static byte[] nonce() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return b;
    }

    static String token() {
        return java.util.HexFormat.of().formatHex(nonce());
    }

    /** {@code HMAC-SHA256(secret, role | first | second)}. */
    static byte[] proof(String secret, String role, byte[] first, byte[] second) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            // an empty secret is a valid key for the handshake, though no protection
            byte[] key = ("polypool-cluster:" + secret).getBytes(StandardCharsets.UTF_8);
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            mac.update(role.getBytes(StandardCharsets.UTF_8));
            mac.update(first);
            mac.update(second);
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is missing from this JDK", e);
        }
    }

    /** Compares in constant time. */
    static boolean matches(byte[] expected, byte[] actual) {
        return actual != null && MessageDigest.isEqual(expected, actual);
    }
}
