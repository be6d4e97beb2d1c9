package org.twicing.models.cli;

import java.io.File;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code twicing classpath}: prints the class path for compiling and running generated model code against the
 * runtime module (the runtime, codegen and dsl jars, ONNX Runtime, protobuf, plus the models classes).
 */
@Command(
    name = "classpath",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    description = {"Print the class path for compiling and running generated code.", "",
        "Prints the class path needed to compile and run generated code against the twicing runtime: the "
            + "runtime, codegen and dsl modules, ONNX Runtime and protobuf (plus the models module and picocli).",
        "Example: javac -cp \"$(twicing classpath)\" -d out Model.java"})
public final class ClasspathCommand implements Callable<Integer> {

  /** System property the launcher sets to the class path it computed with Maven. */
  public static final String CLASSPATH_PROPERTY = "twicing.classpath";

  @Spec
  CommandSpec spec;

  @Option(names = "--lines", description = "Print one entry per line instead of a single "
      + "path-separator-joined line.")
  boolean lines;

  /** Prints the launcher's class path, or this JVM's {@code java.class.path} when not started by the launcher. */
  @Override
  public Integer call() {
    String cp = classpath();
    if (cp == null || cp.isBlank()) {
      throw new CliException("no class path known: neither -D" + CLASSPATH_PROPERTY
          + " (set by the twicing launcher) nor java.class.path is set");
    }
    spec.commandLine().getOut().println(lines ? cp.replace(File.pathSeparator, System.lineSeparator()) : cp);
    spec.commandLine().getOut().flush();
    return 0;
  }

  /** The class path to report: the launcher's property when present, since it is what Maven resolved. */
  static String classpath() {
    String cp = System.getProperty(CLASSPATH_PROPERTY);
    return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
  }
}
