package io.skymesh.mesh.internal.transport;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import java.io.IOException;
import java.util.Map;

/**
 * Headers written as a {@code repeated Header} field ({@code key = 1}, {@code value = 2}) straight
 * from a map, in the map's order, as {@code Headers.fromMap} would list them.
 */
final class OutboundHeaders {

  private OutboundHeaders() {}

  /** The bytes the field takes, tags included; 0 for no headers. */
  static int size(int field, Map<String, String> headers) {
    if (headers.isEmpty()) {
      return 0;
    }
    int size = 0;
    for (Map.Entry<String, String> header : headers.entrySet()) {
      int length = entryLength(header);
      size +=
          CodedOutputStream.computeTagSize(field)
              + CodedOutputStream.computeUInt32SizeNoTag(length)
              + length;
    }
    return size;
  }

  static void write(int field, Map<String, String> headers, CodedOutputStream out)
      throws IOException {
    if (headers.isEmpty()) {
      return;
    }
    for (Map.Entry<String, String> header : headers.entrySet()) {
      out.writeTag(field, WireFormat.WIRETYPE_LENGTH_DELIMITED);
      out.writeUInt32NoTag(entryLength(header));
      if (!header.getKey().isEmpty()) {
        out.writeString(1, header.getKey());
      }
      if (!header.getValue().isEmpty()) {
        out.writeString(2, header.getValue());
      }
    }
  }

  private static int entryLength(Map.Entry<String, String> header) {
    int length = 0;
    if (!header.getKey().isEmpty()) {
      length += CodedOutputStream.computeStringSize(1, header.getKey());
    }
    if (!header.getValue().isEmpty()) {
      length += CodedOutputStream.computeStringSize(2, header.getValue());
    }
    return length;
  }
}
