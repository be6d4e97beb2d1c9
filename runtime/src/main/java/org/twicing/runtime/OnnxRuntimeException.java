package org.twicing.runtime;

/** An ONNX Runtime call failed; the message says what twicing was doing and carries ONNX Runtime's own message. */
public final class OnnxRuntimeException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Wraps {@code cause} (usually an {@code OrtException}) with a description of the failed step. */
  public OnnxRuntimeException(String whatFailed, Throwable cause) {
    super(whatFailed + ": " + cause.getMessage(), cause);
  }
}
