package org.twicing.models.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/**
 * The version shown by {@code --version}: the Maven project version, read from the {@code pom.properties} that
 * Maven puts in the module jars (the models classes themselves usually run from {@code target/classes}, which
 * has none, so the runtime jar's is used too).
 */
public final class TwicingVersion implements IVersionProvider {
  private static final String[] POM_PROPERTIES = {
      "/META-INF/maven/org.twicing/twicing-models/pom.properties",
      "/META-INF/maven/org.twicing/twicing-runtime/pom.properties",
      "/META-INF/maven/org.twicing/twicing-codegen/pom.properties",
  };

  /** The lines printed by {@code --version}. */
  @Override
  public String[] getVersion() {
    return new String[] {
        "twicing " + version(),
        "JVM: ${java.version} (${java.vendor} ${java.vm.name} ${java.vm.version})",
        "OS: ${os.name} ${os.version} ${os.arch}"};
  }

  /** The project version, or {@code "(development build)"} when no module jar is on the class path. */
  public static String version() {
    for (String resource : POM_PROPERTIES) {
      try (InputStream in = TwicingVersion.class.getResourceAsStream(resource)) {
        if (in != null) {
          Properties p = new Properties();
          p.load(in);
          String v = p.getProperty("version");
          if (v != null && !v.isBlank()) {
            return v;
          }
        }
      } catch (IOException e) {
        // An unreadable descriptor only costs us the version string; try the next one.
      }
    }
    String v = TwicingVersion.class.getPackage().getImplementationVersion();
    return v != null ? v : "(development build)";
  }
}
