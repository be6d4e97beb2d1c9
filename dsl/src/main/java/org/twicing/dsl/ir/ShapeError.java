package org.twicing.dsl.ir;

/** Thrown when an op is called with operands whose dtypes or shapes it cannot accept; the message names them. */
public final class ShapeError extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /** Creates the error with a complete message. */
  public ShapeError(String message) {
    super(message);
  }
}
