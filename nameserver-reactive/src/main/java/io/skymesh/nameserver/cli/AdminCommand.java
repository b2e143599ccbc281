package io.skymesh.nameserver.cli;

import com.google.protobuf.ByteString;
import io.netty.handler.ssl.SslContext;
import io.skymesh.proto.Instance;
import io.skymesh.proto.Leader;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * A command that talks to a running name server: connects to {@code --addr}, runs, and maps
 * failures to exit codes (see {@link NameServerCli}).
 */
abstract class AdminCommand implements Callable<Integer> {

  @Option(
      names = "--addr",
      defaultValue = "127.0.0.1:9099",
      paramLabel = "HOST:PORT",
      description = "The name server's address. Default: ${DEFAULT-VALUE}.")
  String addr;

  @Option(
      names = "--timeout",
      defaultValue = "5s",
      converter = DurationConverter.class,
      description =
          "How long to wait for the server to connect and answer. Default: ${DEFAULT-VALUE}.")
  Duration timeout;

  @Option(
      names = "--token",
      defaultValue = "${env:SKYMESH_TOKEN}",
      paramLabel = "TOKEN",
      description =
          "The token to open the session with, when the server requires one. Default: the"
              + " SKYMESH_TOKEN environment variable (which, unlike this option, other users'"
              + " process listings do not show).")
  String token;

  @Option(
      names = "--tls",
      description =
          "Connect with TLS, trusting the JVM's authorities (or --tls-ca's) and checking the"
              + " server's certificate names the host of --addr.")
  boolean tls;

  @Option(
      names = "--tls-ca",
      paramLabel = "PEM",
      description = "With TLS (implies --tls): trust these authorities (PEM) instead of the JVM's.")
  Path tlsCa;

  @Option(
      names = "--tls-cert",
      paramLabel = "PEM",
      description = "Mutual TLS (implies --tls): present this certificate chain; needs --tls-key.")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM", description = "The private key of --tls-cert.")
  Path tlsKey;

  @Spec CommandSpec spec;

  @Override
  public final Integer call() {
    int colon = addr.lastIndexOf(':');
    int port;
    try {
      port = colon > 0 ? Integer.parseInt(addr.substring(colon + 1)) : -1;
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 1 || port > 65535) {
      throw new ParameterException(
          spec.commandLine(), "--addr: '" + addr + "' (expected: host:port, port 1..65535)");
    }
    String host = addr.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    SslContext context;
    try {
      context =
          tls || tlsCa != null || tlsCert != null || tlsKey != null
              ? TlsFiles.client(tlsCa, tlsCert, tlsKey)
              : null;
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    try (AdminClient client =
        AdminClient.connect(
            host, port, timeout, opensSession(), token == null ? "" : token, context)) {
      return run(client, out());
    } catch (CliFailure failure) {
      err().println(spec.qualifiedName() + ": " + failure.getMessage());
      err().flush();
      return failure.exitCode;
    } finally {
      out().flush();
    }
  }

  /** Whether the command needs a session; only a health check does not. */
  boolean opensSession() {
    return true;
  }

  /** Runs the command; returns the exit code. */
  abstract int run(AdminClient client, PrintWriter out);

  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  PrintWriter err() {
    return spec.commandLine().getErr();
  }

  /** A value as text when it is UTF-8, else as {@code base64:...}. */
  static String text(ByteString value) {
    return value.isValidUtf8()
        ? value.toStringUtf8()
        : "base64:" + java.util.Base64.getEncoder().encodeToString(value.toByteArray());
  }

  static String describe(Instance instance) {
    return instance.getUrl()
        + "  "
        + instance.getAddress()
        + "  weight "
        + (instance.getWeight() == 0 ? 1 : instance.getWeight())
        + "  "
        + new TreeMap<>(instance.getAttributesMap());
  }

  static String describe(Leader leader) {
    return (leader.getLeaderUrl().isEmpty() ? "(none)" : leader.getLeaderUrl())
        + "  term "
        + leader.getTerm();
  }

  /** Leaders by service name. */
  static Map<String, Leader> byService(Iterable<Leader> leaders) {
    Map<String, Leader> map = new TreeMap<>();
    for (Leader leader : leaders) {
      map.put(leader.getServiceName(), leader);
    }
    return map;
  }
}
