package org.twicing.models.web;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * A static file server for an exported site on 127.0.0.1, with the COOP/COEP headers that make the page
 * cross-origin isolated (so ONNX Runtime Web may use WebAssembly threads) and the MIME types browsers require for
 * .wasm and .mjs. Only files inside the site directory are served.
 */
public final class WebServer implements AutoCloseable {
  private static final Map<String, String> TYPES = Map.of("html", "text/html; charset=utf-8", "js",
      "text/javascript", "mjs", "text/javascript", "css", "text/css", "json", "application/json", "wasm",
      "application/wasm", "onnx", "application/octet-stream", "bin", "application/octet-stream", "png", "image/png");

  private final HttpServer server;
  private final Path root;

  private WebServer(HttpServer server, Path root) {
    this.server = server;
    this.root = root;
  }

  /** Serves {@code site} on 127.0.0.1:{@code port} (0: any free port) until {@link #close}. */
  public static WebServer start(Path site, int port) throws IOException {
    Path root = site.toAbsolutePath().normalize();
    if (!Files.isRegularFile(root.resolve("index.html"))) {
      throw new NoSuchFileException(root.resolve("index.html").toString(), null,
          "not an exported site (make one with twicing export-web)");
    }
    HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 16);
    WebServer w = new WebServer(s, root);
    s.createContext("/", w::handle);
    s.start();
    return w;
  }

  /** The page's address. */
  public String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/";
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      String path = ex.getRequestURI().getPath();
      Path file = root.resolve(path.equals("/") ? "index.html" : path.substring(1)).normalize();
      if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
        ex.sendResponseHeaders(405, -1);
        return;
      }
      if (!file.startsWith(root) || !Files.isRegularFile(file)) {
        ex.sendResponseHeaders(404, -1);
        return;
      }
      String name = file.getFileName().toString();
      String ext = name.contains(".") ? name.substring(name.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT) : "";
      ex.getResponseHeaders().set("Content-Type", TYPES.getOrDefault(ext, "application/octet-stream"));
      ex.getResponseHeaders().set("Cross-Origin-Opener-Policy", "same-origin");
      ex.getResponseHeaders().set("Cross-Origin-Embedder-Policy", "require-corp");
      ex.getResponseHeaders().set("Cache-Control", "no-cache");
      long size = Files.size(file);
      if (ex.getRequestMethod().equals("HEAD")) {
        ex.sendResponseHeaders(200, -1);
        return;
      }
      ex.sendResponseHeaders(200, size);
      try (OutputStream out = ex.getResponseBody()) {
        Files.copy(file, out);
      }
    }
  }

  /** Stops serving. */
  @Override
  public void close() {
    server.stop(0);
  }
}
