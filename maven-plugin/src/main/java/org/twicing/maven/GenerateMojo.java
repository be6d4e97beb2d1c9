package org.twicing.maven;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.project.MavenProject;

/**
 * {@code twicing:generate}: writes typed Java bindings (a class with {@code load} and {@code run}, and a trainer
 * when training graphs are at hand) for ONNX files or a twicing zoo preset into
 * {@code target/generated-sources/twicing}, and adds that directory to the compile source roots. The generated
 * code needs only the {@code twicing-runtime} artifact at compile and run time.
 */
@Mojo(name = "generate", defaultPhase = LifecyclePhase.GENERATE_SOURCES, threadSafe = true)
public final class GenerateMojo extends AbstractMojo {
  /** The project whose compile source roots get the generated directory. */
  @Parameter(defaultValue = "${project}", readonly = true, required = true)
  private MavenProject project;

  /** Java package of the generated classes, e.g. {@code com.example.models}. */
  @Parameter(required = true)
  private String packageName;

  /** ONNX model files to bind; a {@code model.onnx} with a {@code train_step.onnx} beside it also gets a trainer. */
  @Parameter
  private List<File> onnxFiles;

  /** A zoo preset to emit and bind: vit-tiny, vit-fmnist, lm-tiny or lm-paper. */
  @Parameter
  private String preset;

  /** The preset's attention kind for its twicing layers (softmax, twicing, twicing-learned, twicingK). */
  @Parameter
  private String attention;

  /** Which of the preset's layers use twicing attention: all, none, last:K or i,j,... */
  @Parameter
  private String twicingLayers;

  /** Seed of the preset's initial weights. */
  @Parameter(defaultValue = "0")
  private long seed;

  /** Where the sources go (added to the compile source roots). */
  @Parameter(defaultValue = "${project.build.directory}/generated-sources/twicing", required = true)
  private File outputDirectory;

  /** Where a preset's model files (model.onnx, grads.onnx, train_step.onnx) go, in a folder named after it. */
  @Parameter(defaultValue = "${project.build.directory}/twicing-models", required = true)
  private File modelDirectory;

  /** Skips the goal. */
  @Parameter(property = "twicing.generate.skip", defaultValue = "false")
  private boolean skip;

  @Override
  public void execute() throws MojoExecutionException, MojoFailureException {
    if (skip) {
      getLog().info("twicing:generate skipped");
      return;
    }
    BindingsTask task;
    try {
      task = new BindingsTask(packageName, onnxFiles == null ? List.of()
          : onnxFiles.stream().map(File::toPath).toList(), preset, attention, twicingLayers, seed,
          outputDirectory.toPath(), modelDirectory.toPath());
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new MojoFailureException("twicing:generate: " + e.getMessage(), e);
    }
    try {
      for (Path p : task.run()) {
        getLog().info("twicing:generate wrote " + p);
      }
    } catch (IllegalArgumentException e) {
      throw new MojoFailureException("twicing:generate: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new MojoExecutionException("twicing:generate could not write the bindings: " + e.getMessage(), e);
    }
    project.addCompileSourceRoot(outputDirectory.getAbsolutePath());
  }
}
