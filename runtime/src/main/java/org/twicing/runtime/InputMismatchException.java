package org.twicing.runtime;

/** A value fed to a {@link ModelSession} does not match the model's declared inputs; names the input at fault. */
public final class InputMismatchException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String inputName;

  InputMismatchException(String inputName, String message) {
    super(message);
    this.inputName = inputName;
  }

  /** The name of the input at fault (for a symbolic dim that disagrees across inputs, the later one). */
  public String inputName() {
    return inputName;
  }
}
