package org.twicing.models.conformance;

/**
 * What happened to one conformance case.
 *
 * @param caseName the case's name
 * @param op the ONNX op type the case tests (see {@link CaseModel#opUnderTest})
 * @param status passed, failed or unsupported
 * @param stage the stage that failed or found the case unsupported; {@link Stage#DONE} for a pass
 * @param detail for a failure, the error or the largest mismatch; for an unsupported case, the reason; for a
 *     pass, empty or how the case had to be adapted (integer inputs fed as initializers)
 */
public record CaseResult(String caseName, String op, Status status, Stage stage, String detail) {

  /** The outcome of a case. */
  public enum Status {
    /** Both our float64 evaluator and ONNX Runtime on our re-emitted model matched ONNX's expected outputs. */
    PASSED,
    /** The case uses only what we claim, yet a stage threw or produced values outside the tolerance. */
    FAILED,
    /** The case uses an op, dtype, value kind or attribute form we do not claim; {@code detail} says which. */
    UNSUPPORTED
  }

  /** Where in the pipeline a case stopped. */
  public enum Stage {
    /** Reading the model and the test data, and checking their value kinds and dtypes. */
    READ("read"),
    /** {@code OnnxImporter}: ModelProto to our IR graph. */
    IMPORT("import"),
    /** Our float64 reference evaluator on the imported graph. */
    EVALUATOR("evaluator"),
    /** {@code OnnxEmitter}: our graph back to an ONNX model. */
    EMIT("emit"),
    /** ONNX Runtime running the re-emitted model. */
    ONNX_RUNTIME("onnxruntime"),
    /** Every stage ran (a pass). */
    DONE("done");

    private final String label;

    Stage(String label) {
      this.label = label;
    }

    /** The short lower-case name printed in result lines. */
    public String label() {
      return label;
    }
  }

  /** A passed case. */
  public static CaseResult passed(String caseName, String op) {
    return new CaseResult(caseName, op, Status.PASSED, Stage.DONE, "");
  }

  /** A passed case that needed an adaptation, said in {@code note}. */
  public static CaseResult passedWithNote(String caseName, String op, String note) {
    return new CaseResult(caseName, op, Status.PASSED, Stage.DONE, note);
  }

  /** A failed case. */
  public static CaseResult failed(String caseName, String op, Stage stage, String detail) {
    return new CaseResult(caseName, op, Status.FAILED, stage, detail);
  }

  /** An unsupported case with the reason. */
  public static CaseResult unsupported(String caseName, String op, Stage stage, String reason) {
    return new CaseResult(caseName, op, Status.UNSUPPORTED, stage, reason);
  }

  /** The one line printed for this case: {@code FAIL name [stage] detail} or {@code UNSUPPORTED name: reason}. */
  public String line() {
    return switch (status) {
      case PASSED -> "PASS " + caseName + (detail.isEmpty() ? "" : " (" + detail + ")");
      case FAILED -> "FAIL " + caseName + " [" + stage.label() + "] " + detail;
      case UNSUPPORTED -> "UNSUPPORTED " + caseName + " [" + stage.label() + "] " + detail;
    };
  }
}
