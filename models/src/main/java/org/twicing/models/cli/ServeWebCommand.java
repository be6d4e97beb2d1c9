package org.twicing.models.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.BindException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.twicing.models.web.WebServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code twicing serve-web}: serves an exported site on 127.0.0.1 until interrupted. */
@Command(
    name = "serve-web",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    description = {"Serve a site written by 'twicing export-web' on 127.0.0.1 (with the cross-origin isolation "
        + "headers that let ONNX Runtime Web use WebAssembly threads) until Ctrl-C."})
public final class ServeWebCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Parameters(index = "0", paramLabel = "DIR", description = "The site directory.")
  Path dir;

  @Option(names = "--port", paramLabel = "P", defaultValue = "8080", description = "Port (default 8080; 0: any "
      + "free port).")
  int port;

  @Override
  public Integer call() throws InterruptedException {
    if (port < 0 || port > 65535) {
      throw new CliException("--port must be between 0 and 65535, got " + port, null, TwicingCli.EXIT_USAGE);
    }
    PrintWriter w = spec.commandLine().getOut();
    WebServer server;
    try {
      server = WebServer.start(dir, port);
    } catch (IOException e) {
      throw new CliException(CliException.describe(e) + (e instanceof BindException ? " (port " + port
          + " is in use? try --port 0)" : ""), e);
    }
    w.println("serving " + dir + " at " + server.url() + " (Ctrl-C to stop)");
    w.flush();
    CountDownLatch stop = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      stop.countDown();
    }));
    stop.await();
    return 0;
  }
}
