package org.twicing.runtime.train;

import ai.onnxruntime.OnnxTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.twicing.dsl.types.DType;
import org.twicing.runtime.Tensors;

/**
 * Prepares batches for the trainer: takes the next {@link Batch} from the source, copies it into one of a few
 * reusable direct native buffers and wraps those as ONNX Runtime tensors (zero-copy), on a background thread so
 * that this overlaps the running step. A slot goes back to the pool when its tensors are released after the step.
 */
final class Prefetcher implements AutoCloseable {
  /** A batch ready to feed: its tensors (backed by a pooled slot) and its bookkeeping. */
  record Prepared(OnnxTensor input, OnnxTensor labels, int examples, String nextPosition, double epoch, Slot slot) { }

  /** Two reusable direct buffers. */
  static final class Slot {
    ByteBuffer input;
    ByteBuffer labels;

    ByteBuffer input(int bytes) {
      if (input == null || input.capacity() < bytes) {
        input = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
      }
      input.clear().limit(bytes);
      return input;
    }

    ByteBuffer labels(int bytes) {
      if (labels == null || labels.capacity() < bytes) {
        labels = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
      }
      labels.clear().limit(bytes);
      return labels;
    }
  }

  private final BatchSource source;
  private final DType inputType;
  private final String inputName;
  private final ExecutorService executor;
  private final BlockingQueue<Slot> free = new ArrayBlockingQueue<>(3);
  private Future<Prepared> pending;

  Prefetcher(BatchSource source, DType inputType, String inputName, boolean background) {
    this.source = source;
    this.inputType = inputType;
    this.inputName = inputName;
    for (int i = 0; i < 3; i++) {
      free.add(new Slot());
    }
    this.executor = background ? Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "twicing-batches");
      t.setDaemon(true);
      return t;
    }) : null;
  }

  /** Starts preparing the next batch (in the background, or now when prefetching is off). */
  void request() {
    if (pending != null) {
      throw new IllegalStateException("a batch is already being prepared");
    }
    if (executor != null) {
      pending = executor.submit(this::prepare);
    } else {
      pending = CompletableFuture.completedFuture(null);
    }
  }

  /** The batch asked for by the last {@link #request()}, waiting for it if needed. */
  Prepared take() {
    if (pending == null) {
      throw new IllegalStateException("no batch was requested");
    }
    Future<Prepared> f = pending;
    pending = null;
    if (executor == null) {
      return prepare();
    }
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the next batch", e);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException re) {
        throw re;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException("reading the next batch from " + source.describe() + " failed: "
          + c.getMessage(), c);
    }
  }

  /** Closes the batch's tensors and returns its buffers to the pool. */
  void release(Prepared p) {
    p.input().close();
    p.labels().close();
    free.add(p.slot());
  }

  private Prepared prepare() {
    Batch b = source.next();
    Slot slot;
    try {
      slot = free.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while preparing a batch", e);
    }
    OnnxTensor in = null;
    try {
      long[] inShape = b.inputShape();
      if (inputType == DType.FLOAT32) {
        if (!(b.input() instanceof FloatBuffer fb)) {
          throw new IllegalArgumentException(source.describe() + " gave int64 batches but the model input '"
              + inputName + "' is float32");
        }
        ByteBuffer bytes = slot.input(fb.remaining() * 4);
        bytes.asFloatBuffer().put(fb.duplicate());
        in = Tensors.fromBuffer(bytes.asFloatBuffer(), inShape);
      } else if (inputType == DType.INT64) {
        if (!(b.input() instanceof LongBuffer lb)) {
          throw new IllegalArgumentException(source.describe() + " gave float32 batches but the model input '"
              + inputName + "' is int64");
        }
        ByteBuffer bytes = slot.input(lb.remaining() * 8);
        bytes.asLongBuffer().put(lb.duplicate());
        in = Tensors.fromBuffer(bytes.asLongBuffer(), inShape);
      } else {
        throw new IllegalArgumentException("model input '" + inputName + "' has type " + inputType
            + "; the trainer feeds float32 or int64 inputs");
      }
      ByteBuffer lbytes = slot.labels(b.labels().remaining() * 8);
      lbytes.asLongBuffer().put(b.labels().duplicate());
      OnnxTensor labels = Tensors.fromBuffer(lbytes.asLongBuffer(), b.labelShape());
      return new Prepared(in, labels, b.examples(), b.nextPosition(), b.epoch(), slot);
    } catch (RuntimeException e) {
      if (in != null) {
        in.close();
      }
      free.add(slot);
      throw e;
    }
  }

  @Override
  public void close() {
    if (pending != null && executor != null) {
      try {
        Prepared p = pending.get(30, TimeUnit.SECONDS);
        if (p != null) {
          release(p);
        }
      } catch (ExecutionException | CancellationException | TimeoutException e) {
        // the batch failed or never came: nothing to release
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      pending = null;
    }
    if (executor != null) {
      executor.shutdownNow();
    }
  }
}
