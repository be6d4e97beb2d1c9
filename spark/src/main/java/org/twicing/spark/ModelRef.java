package org.twicing.spark;

import java.io.Serializable;
import java.math.BigInteger;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * An ONNX model shipped to executors: its bytes broadcast once (Spark's torrent broadcast, fetched once per
 * executor), its SHA-256 (the key of {@link ExecutorSessions}), and the provider and intra-op threads each
 * executor's session uses. Serialisable, so tasks can carry it; the bytes travel only through the broadcast.
 */
public final class ModelRef implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String hash;
  private final Broadcast<byte[]> bytes;
  private final String provider;
  private final int threads;

  private ModelRef(String hash, Broadcast<byte[]> bytes, String provider, int threads) {
    this.hash = hash;
    this.bytes = bytes;
    this.provider = provider;
    this.threads = threads;
  }

  /** Broadcasts {@code model} (ONNX bytes) for sessions on {@code provider} with {@code threads} intra-op threads. */
  public static ModelRef broadcast(JavaSparkContext sc, byte[] model, String provider, int threads) {
    if (threads <= 0) {
      throw new IllegalArgumentException("executor intra-op threads must be positive, got " + threads);
    }
    return new ModelRef(sha256(model), sc.broadcast(model), provider, threads);
  }

  /** The model's SHA-256, hex. */
  public String hash() {
    return hash;
  }

  /** The cache key: the model's hash with the session options. */
  String key() {
    return hash + "|" + provider + "|" + threads;
  }

  /** The model bytes (on an executor: fetched from the broadcast on first access). */
  byte[] bytes() {
    return bytes.value();
  }

  /** The execution provider of executor sessions. */
  String provider() {
    return provider;
  }

  /** Intra-op threads of executor sessions. */
  int threads() {
    return threads;
  }

  /** Removes the broadcast bytes from the executors and the driver (the reference is unusable after). */
  public void destroy() {
    bytes.destroy();
  }

  static String sha256(byte[] b) {
    try {
      return String.format("%064x", new BigInteger(1, MessageDigest.getInstance("SHA-256").digest(b)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
