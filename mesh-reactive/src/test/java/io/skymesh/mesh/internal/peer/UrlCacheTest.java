package io.skymesh.mesh.internal.peer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import org.junit.jupiter.api.Test;

class UrlCacheTest {

  private final UrlCache cache = new UrlCache();

  @Test
  void aStringParsesToItsUrlOnceAndThenComesFromTheCache() {
    ServiceUrl first = cache.parse("game.zone1.lobby/1");

    assertThat(first).isEqualTo(ServiceUrl.parse("game.zone1.lobby/1"));
    assertThat(cache.parse("game.zone1.lobby/1")).isSameAs(first);
  }

  @Test
  void aBadStringFailsEveryTimeAndIsNotCached() {
    assertThatThrownBy(() -> cache.parse("game.zone1/1"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("game.zone1/1");
    assertThatThrownBy(() -> cache.parse("game.zone1/1"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aUrlEncodesToTheUtf8OfItsStringForm() {
    ServiceUrl url = ServiceUrl.parse("game.zone1.lobby/a-1");

    ByteString bytes = cache.utf8(url);

    assertThat(bytes).isEqualTo(ByteString.copyFromUtf8(url.toString()));
    assertThat(cache.utf8(url)).isSameAs(bytes);
  }

  @Test
  void pastItsBoundItStartsOverAndStaysCorrect() {
    for (int i = 0; i < 3 * UrlCache.MAX_ENTRIES; i++) {
      String text = "game.zone1.lobby/" + i;
      assertThat(cache.parse(text).instanceId()).isEqualTo(Integer.toString(i));
      assertThat(cache.utf8(ServiceUrl.parse(text)).toStringUtf8()).isEqualTo(text);
    }
    ServiceUrl again = cache.parse("game.zone1.lobby/0");
    assertThat(again).isEqualTo(ServiceUrl.parse("game.zone1.lobby/0"));
  }
}
