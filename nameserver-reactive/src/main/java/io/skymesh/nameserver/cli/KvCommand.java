package io.skymesh.nameserver.cli;

import com.google.protobuf.ByteString;
import io.skymesh.proto.Ack;
import io.skymesh.proto.KvDelete;
import io.skymesh.proto.KvEntry;
import io.skymesh.proto.KvGet;
import io.skymesh.proto.KvGetResult;
import io.skymesh.proto.KvList;
import io.skymesh.proto.KvPut;
import io.skymesh.proto.NameClientFrame;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code kv get|put|delete|list|clear}: the name server's KV config. */
@Command(
    name = "kv",
    mixinStandardHelpOptions = true,
    description = "Reads and writes the KV config.",
    subcommands = {
      KvCommand.Get.class,
      KvCommand.Put.class,
      KvCommand.Delete.class,
      KvCommand.ListKeys.class,
      KvCommand.Clear.class
    })
final class KvCommand implements Runnable {

  @Spec CommandSpec spec;

  @Override
  public void run() {
    throw new ParameterException(
        spec.commandLine(), "kv needs a subcommand: get, put, delete, list or clear");
  }

  /** {@code kv get <key>}: prints the value; exit 1 if the key does not exist. */
  @Command(name = "get", mixinStandardHelpOptions = true, description = "Prints a key's value.")
  static final class Get extends AdminCommand {
    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Option(
        names = {"-v", "--verbose"},
        description = "Also print the key's revisions.")
    boolean verbose;

    @Override
    int run(AdminClient client, PrintWriter out) {
      KvGetResult result =
          client
              .ack(NameClientFrame.newBuilder().setKvGet(KvGet.newBuilder().setKey(key)))
              .getKvGet();
      if (!result.getFound()) {
        throw new CliFailure(CliFailure.NOT_FOUND, "key not found: " + key);
      }
      KvEntry entry = result.getEntry();
      out.println(text(entry.getValue()));
      if (verbose) {
        out.println(
            "create_revision "
                + entry.getCreateRevision()
                + "  mod_revision "
                + entry.getModRevision());
      }
      return 0;
    }
  }

  /** {@code kv put <key> <value>}: writes a UTF-8 value; prints the revision. */
  @Command(
      name = "put",
      mixinStandardHelpOptions = true,
      description = "Writes a key; prints the revision of the write.")
  static final class Put extends AdminCommand {
    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Parameters(index = "1", paramLabel = "VALUE", description = "The value, as UTF-8 text.")
    String value;

    @Option(
        names = "--expect-revision",
        paramLabel = "REV",
        description =
            "Compare-and-set: write only if the key's mod_revision is REV (0: only if absent).")
    Long expected;

    @Override
    int run(AdminClient client, PrintWriter out) {
      KvPut.Builder put = KvPut.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value));
      if (expected != null) {
        put.setExpectedModRevision(expected);
      }
      Ack ack = client.ack(NameClientFrame.newBuilder().setKvPut(put));
      out.println("revision " + ack.getRevision());
      return 0;
    }
  }

  /** {@code kv delete <key>}: deletes that key only; exit 1 if it does not exist. */
  @Command(
      name = "delete",
      mixinStandardHelpOptions = true,
      description = "Deletes one key (never the keys it prefixes; see clear).")
  static final class Delete extends AdminCommand {
    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Option(
        names = "--expect-revision",
        paramLabel = "REV",
        description = "Delete only if the key's mod_revision is REV.")
    Long expected;

    @Override
    int run(AdminClient client, PrintWriter out) {
      KvDelete.Builder delete = KvDelete.newBuilder().setKey(key);
      if (expected != null) {
        delete.setExpectedModRevision(expected);
      }
      Ack ack = client.ack(NameClientFrame.newBuilder().setKvDelete(delete));
      if (ack.getCount() == 0) {
        throw new CliFailure(CliFailure.NOT_FOUND, "key not found: " + key);
      }
      out.println("deleted " + key + " at revision " + ack.getRevision());
      return 0;
    }
  }

  /** {@code kv list [prefix]}: one {@code key = value} line per key, in key order. */
  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description = "Lists keys and values under a prefix.")
  static final class ListKeys extends AdminCommand {
    @Parameters(index = "0", arity = "0..1", defaultValue = "", paramLabel = "PREFIX")
    String prefix;

    @Override
    int run(AdminClient client, PrintWriter out) {
      for (KvEntry entry :
          client
              .ack(NameClientFrame.newBuilder().setKvList(KvList.newBuilder().setPrefix(prefix)))
              .getKvList()
              .getEntriesList()) {
        out.println(entry.getKey() + " = " + text(entry.getValue()));
      }
      return 0;
    }
  }

  /** {@code kv clear <prefix> | --all}: deletes every key under a prefix; prints how many. */
  @Command(
      name = "clear",
      mixinStandardHelpOptions = true,
      description = "Deletes every key under a prefix (--all: every key).")
  static final class Clear extends AdminCommand {
    @Parameters(index = "0", arity = "0..1", paramLabel = "PREFIX")
    String prefix;

    @Option(names = "--all", description = "Delete every key.")
    boolean all;

    @Override
    int run(AdminClient client, PrintWriter out) {
      String target = requirePrefixOrAll(spec, prefix, all);
      Ack ack =
          client.ack(
              NameClientFrame.newBuilder()
                  .setKvDelete(KvDelete.newBuilder().setKey(target).setPrefix(true)));
      out.println("deleted " + ack.getCount() + " key(s)");
      return 0;
    }
  }

  /** The prefix to clear; clearing everything needs an explicit {@code --all}. */
  static String requirePrefixOrAll(CommandSpec spec, String prefix, boolean all) {
    if (all == (prefix != null && !prefix.isEmpty())) {
      throw new ParameterException(
          spec.commandLine(), "give either a non-empty PREFIX or --all (not both)");
    }
    return all ? "" : prefix;
  }
}
