package org.twicing.tests.support;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/**
 * Runs serialized ONNX models in ONNX Runtime (CPU, Java API used directly) on host {@link Tensor}s and returns
 * host tensors: float32, float64, int64, int32 and bool are supported in both directions.
 */
public final class OrtRunner {
  private OrtRunner() { }

  /** The process-wide ONNX Runtime environment. */
  public static OrtEnvironment env() {
    return OrtEnvironment.getEnvironment();
  }

  /** Runs {@code model} with default session options; returns every model output by name, in model order. */
  public static Map<String, Tensor> run(byte[] model, Map<String, Tensor> feeds) {
    try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
      return run(model, feeds, opts);
    }
  }

  /**
   * Runs {@code model} with {@code options}. Every feed must name a model input (an unknown name fails rather
   * than being ignored); returns every model output by name, in model order.
   */
  public static Map<String, Tensor> run(byte[] model, Map<String, Tensor> feeds, OrtSession.SessionOptions options) {
    OrtEnvironment env = env();
    try (OrtSession session = env.createSession(model, options)) {
      Map<String, NodeInfo> inputs = session.getInputInfo();
      for (String name : feeds.keySet()) {
        if (!inputs.containsKey(name)) {
          throw new IllegalArgumentException("feed '" + name + "' is not a model input; inputs are "
              + inputs.keySet());
        }
      }
      Map<String, OnnxTensor> ortFeeds = new LinkedHashMap<>();
      try {
        for (Map.Entry<String, Tensor> e : feeds.entrySet()) {
          ortFeeds.put(e.getKey(), toOrt(env, e.getValue()));
        }
        List<String> outNames = new ArrayList<>(session.getOutputNames());
        try (OrtSession.Result result = session.run(ortFeeds)) {
          Map<String, Tensor> out = new LinkedHashMap<>();
          for (int i = 0; i < result.size(); i++) {
            OnnxValue v = result.get(i);
            if (!(v instanceof OnnxTensor t)) {
              throw new IllegalStateException("output '" + outNames.get(i) + "' is not a tensor: " + v.getType());
            }
            out.put(outNames.get(i), fromOrt(t));
          }
          return out;
        }
      } finally {
        ortFeeds.values().forEach(OnnxTensor::close);
      }
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime failed: " + e.getMessage(), e);
    }
  }

  /** An ONNX Runtime tensor holding {@code t}'s values in its dtype (the caller closes it). */
  public static OnnxTensor toOrt(OrtEnvironment env, Tensor t) throws OrtException {
    long[] shape = t.shape();
    double[] d = t.toDoubles();
    int n = d.length;
    switch (t.dtype()) {
      case FLOAT32 -> {
        FloatBuffer b = FloatBuffer.allocate(n);
        for (double v : d) {
          b.put((float) v);
        }
        return OnnxTensor.createTensor(env, b.flip(), shape);
      }
      case FLOAT64 -> {
        return OnnxTensor.createTensor(env, DoubleBuffer.wrap(d.clone()), shape);
      }
      case INT64 -> {
        return OnnxTensor.createTensor(env, LongBuffer.wrap(t.toLongs()), shape);
      }
      case INT32 -> {
        IntBuffer b = IntBuffer.allocate(n);
        for (double v : d) {
          b.put((int) v);
        }
        return OnnxTensor.createTensor(env, b.flip(), shape);
      }
      case BOOL -> {
        ByteBuffer b = ByteBuffer.allocateDirect(n).order(ByteOrder.nativeOrder());
        for (double v : d) {
          b.put((byte) (v != 0 ? 1 : 0));
        }
        return OnnxTensor.createTensor(env, b.flip(), shape, OnnxJavaType.BOOL);
      }
      default -> throw new IllegalArgumentException("OrtRunner does not feed dtype " + t.dtype()
          + " (supported: float32, float64, int64, int32, bool)");
    }
  }

  /** A host tensor holding the values of an ONNX Runtime tensor. */
  public static Tensor fromOrt(OnnxTensor t) {
    TensorInfo info = t.getInfo();
    long[] shape = info.getShape();
    int n = Math.toIntExact(Tensor.numel(shape));
    double[] d = new double[n];
    DType dtype;
    switch (info.type) {
      case FLOAT -> {
        dtype = DType.FLOAT32;
        FloatBuffer b = t.getFloatBuffer();
        for (int i = 0; i < n; i++) {
          d[i] = b.get(i);
        }
      }
      case DOUBLE -> {
        dtype = DType.FLOAT64;
        t.getDoubleBuffer().get(d);
      }
      case INT64 -> {
        dtype = DType.INT64;
        LongBuffer b = t.getLongBuffer();
        for (int i = 0; i < n; i++) {
          d[i] = b.get(i);
        }
      }
      case INT32 -> {
        dtype = DType.INT32;
        IntBuffer b = t.getIntBuffer();
        for (int i = 0; i < n; i++) {
          d[i] = b.get(i);
        }
      }
      case BOOL -> {
        dtype = DType.BOOL;
        ByteBuffer b = t.getByteBuffer();
        for (int i = 0; i < n; i++) {
          d[i] = b.get(i) != 0 ? 1 : 0;
        }
      }
      default -> throw new IllegalArgumentException("OrtRunner does not read ONNX Runtime type " + info.type
          + " (supported: float32, float64, int64, int32, bool)");
    }
    return new Tensor(dtype, shape, d);
  }
}
