package io.skymesh.nameserver.cli;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/** Reads sizes in bytes like {@code 65536}, {@code 512KiB}, {@code 64MiB}, {@code 1GiB}. */
final class SizeConverter implements CommandLine.ITypeConverter<Long> {

  private static final Pattern SIZE = Pattern.compile("(\\d{1,15})\\s*(B|KiB|MiB|GiB)?");

  @Override
  public Long convert(String value) {
    Matcher size = SIZE.matcher(value.trim());
    if (!size.matches()) {
      throw new CommandLine.TypeConversionException(
          "'" + value + "' is not a size (expected: e.g. 65536, 512KiB, 64MiB or 1GiB)");
    }
    long amount = Long.parseLong(size.group(1));
    String unit = size.group(2) == null ? "B" : size.group(2);
    return switch (unit) {
      case "KiB" -> amount << 10;
      case "MiB" -> amount << 20;
      case "GiB" -> amount << 30;
      default -> amount;
    };
  }
}
