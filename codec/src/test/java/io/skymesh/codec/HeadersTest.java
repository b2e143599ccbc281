package io.skymesh.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.skymesh.proto.Data;
import io.skymesh.proto.Header;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HeadersTest {

  private static Header header(String key, String value) {
    return Header.newBuilder().setKey(key).setValue(value).build();
  }

  @Test
  void metadataIsRefusedOverItsCountOrItsBytes() {
    List<Header> sixtyFour = new java.util.ArrayList<>();
    for (int i = 0; i < Headers.MAX_COUNT; i++) {
      sixtyFour.add(header("k" + i, "v"));
    }
    assertThat(Headers.check(List.of())).isNull();
    assertThat(Headers.check(sixtyFour)).isNull();
    sixtyFour.add(header("one", "more"));
    assertThat(Headers.check(sixtyFour)).isEqualTo("65 metadata entries, over the limit of 64");

    assertThat(Headers.check(List.of(header("k", "v".repeat(8000))))).isNull();
    assertThat(Headers.check(List.of(header("k", "v".repeat(8200)))))
        .endsWith(" bytes of metadata, over the limit of 8192");
  }

  @Test
  void noHeadersIsTheEmptyMapAndTheEmptyList() {
    assertThat(Headers.toMap(List.of())).isEmpty();
    assertThat(Headers.fromMap(Map.of())).isEmpty();
  }

  @Test
  void aKeyThatAppearsTwiceTakesItsLastValueAsInAProtobufMap() {
    Map<String, String> map =
        Headers.toMap(List.of(header("a", "1"), header("b", "2"), header("a", "3")));

    assertThat(map).containsExactlyInAnyOrderEntriesOf(Map.of("a", "3", "b", "2"));
  }

  @Test
  void aMapGoesToEntriesInItsOrderAndBack() {
    Map<String, String> map = new LinkedHashMap<>();
    map.put("traceparent", "00-1");
    map.put("content-type", "bytes");
    map.put("", "");

    List<Header> entries = Headers.fromMap(map);

    assertThat(entries)
        .containsExactly(
            header("traceparent", "00-1"), header("content-type", "bytes"), header("", ""));
    assertThat(Headers.toMap(entries)).isEqualTo(map);
  }

  @Test
  void theMapIsImmutable() {
    Map<String, String> map = Headers.toMap(List.of(header("a", "1"), header("b", "2")));

    assertThatThrownBy(() -> map.put("c", "3")).isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void aNullValueIsRefused() {
    Map<String, String> map = new LinkedHashMap<>();
    map.put("a", null);

    assertThatThrownBy(() -> Headers.fromMap(map)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void theEncodingIsThatOfAMapStringStringField() throws Exception {
    // Data.headers is field 3; a map<string, string> entry is a length-delimited message with the
    // key as field 1 and the value as field 2: 1a 06 | 0a 01 'k' | 12 01 'v'.
    byte[] asMap = HexFormat.of().parseHex("1a060a016b120176" + "1a060a016b120177");

    Data data = Data.parseFrom(asMap);

    assertThat(Headers.toMap(data.getHeadersList())).isEqualTo(Map.of("k", "w"));
    Data written =
        Data.newBuilder()
            .addAllHeaders(Headers.fromMap(Map.of("k", "v")))
            .setPayload(ByteString.EMPTY)
            .build();
    assertThat(HexFormat.of().formatHex(written.toByteArray())).isEqualTo("1a060a016b120176");
  }
}
