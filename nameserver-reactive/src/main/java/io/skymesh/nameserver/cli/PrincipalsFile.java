package io.skymesh.nameserver.cli;

import io.skymesh.nameserver.Principal;
import io.skymesh.nameserver.Principal.Role;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code serve --principals FILE}: one principal per line, four fields separated by white space,
 * {@code #} to the end of a line a comment.
 *
 * <pre>
 * # name   token                  roles           apps
 * lobby    9f2c...d1              service         game
 * grafana  51aa...07              reader          game,chat
 * ops      c3e8...9b              admin           *
 * </pre>
 *
 * <p>Read once, at start-up, on the command's own thread (a blocking edge).
 */
final class PrincipalsFile {

  private PrincipalsFile() {}

  /**
   * Reads the principals of {@code file}.
   *
   * @throws IllegalArgumentException naming the file, the line and what is wrong with it
   */
  static List<Principal> read(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalArgumentException("--principals: cannot read " + file + ": " + e, e);
    }
    List<Principal> principals = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      int comment = line.indexOf('#');
      String content = (comment >= 0 ? line.substring(0, comment) : line).strip();
      if (content.isEmpty()) {
        continue;
      }
      String where = file + ":" + (i + 1) + ": ";
      String[] fields = content.split("\\s+");
      if (fields.length != 4) {
        throw new IllegalArgumentException(
            where + fields.length + " fields (expected: name token roles apps)");
      }
      try {
        principals.add(new Principal(fields[0], fields[1], roles(fields[2]), apps(fields[3])));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + e.getMessage(), e);
      }
    }
    if (principals.isEmpty()) {
      throw new IllegalArgumentException(
          "--principals: " + file + " names no principal (expected: name token roles apps)");
    }
    return principals;
  }

  private static Set<Role> roles(String field) {
    Set<Role> roles = EnumSet.noneOf(Role.class);
    for (String role : field.split(",")) {
      try {
        roles.add(Role.valueOf(role.strip().toUpperCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "role \"" + role + "\" (expected: service, reader or admin, comma-separated)", e);
      }
    }
    return roles;
  }

  private static Set<String> apps(String field) {
    Set<String> apps = new LinkedHashSet<>();
    for (String app : field.split(",")) {
      apps.add(app.strip());
    }
    return apps;
  }
}
