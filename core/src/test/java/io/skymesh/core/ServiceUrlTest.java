package io.skymesh.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ServiceUrlTest {

  @Test
  void parsesWithAndWithoutTheScheme() {
    ServiceUrl url = ServiceUrl.parse("skymesh://game.zone1.lobby/7");

    assertThat(url).isEqualTo(ServiceUrl.parse("game.zone1.lobby/7"));
    assertThat(url.appId()).isEqualTo("game");
    assertThat(url.serviceName()).isEqualTo(new ServiceName("game", "zone1", "lobby"));
    assertThat(url.instanceId()).isEqualTo("7");
    assertThat(url).hasToString("game.zone1.lobby/7");
    assertThat(url.toUriString()).isEqualTo("skymesh://game.zone1.lobby/7");
  }

  @Test
  void partsAllowLettersDigitsUnderscoreAndDashUpTo64() {
    String longest = "a".repeat(64);
    ServiceUrl url = ServiceUrl.parse("A_b-9." + longest + ".x/" + longest);

    assertThat(url.serviceName().env()).isEqualTo(longest);
    assertThat(ServiceUrl.parse(url.toString())).isEqualTo(url);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "game.zone1.lobby|no '/' found",
        "game.zone1/7|expected appId.env.service, found 2 dot-separated parts",
        "a.b.c.d/7|found 4 dot-separated parts",
        "game..lobby/7|env \"\" must be 1 to 64",
        "game.zone1.lobby/|instanceId \"\" must be 1 to 64",
        "game.zone1.lobby/7 8|instanceId \"7 8\" must be 1 to 64",
        "game.zone1.lobby/7/8|more than one '/'",
        "gäme.zone1.lobby/7|appId \"gäme\" must be 1 to 64",
        "http://game.zone1.lobby/7|scheme \"http://\" is not skymesh://",
      })
  void badUrlNamesTheBadPartAndQuotesTheInput(String input, String expected) {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ServiceUrl.parse(input))
        .withMessageStartingWith("Invalid ServiceUrl \"" + input + "\": ")
        .withMessageContaining(expected);
  }

  @Test
  void partCheckAgreesWithTheDocumentedPattern() {
    java.util.regex.Pattern documented = java.util.regex.Pattern.compile("[A-Za-z0-9_-]{1,64}");
    java.util.Random random = new java.util.Random(11);
    String alphabet = "aZ09_-.:/ ä\u0000\uD83D";
    for (int i = 0; i < 20_000; i++) {
      StringBuilder part = new StringBuilder();
      int length = random.nextInt(67);
      for (int j = 0; j < length; j++) {
        part.append(alphabet.charAt(random.nextInt(alphabet.length())));
      }
      String candidate = part.toString();
      assertThat(Names.isPart(candidate))
          .as(candidate)
          .isEqualTo(documented.matcher(candidate).matches());
    }
  }

  @Test
  void tooLongPartIsRefused() {
    String input = "game.zone1.lobby/" + "x".repeat(65);
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ServiceUrl.parse(input))
        .withMessageContaining("instanceId");
  }

  @Test
  void serviceNameParsesAndRefusesAnInstance() {
    assertThat(ServiceName.parse("skymesh://game.zone1.lobby")).hasToString("game.zone1.lobby");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ServiceName.parse("game.zone1.lobby/7"))
        .withMessage(
            "Invalid ServiceName \"game.zone1.lobby/7\": a ServiceName has no '/instanceId'");
  }

  @Test
  void ordersByNameThenInstance() {
    ServiceUrl a1 = ServiceUrl.parse("a.b.c/1");
    ServiceUrl a2 = ServiceUrl.parse("a.b.c/2");
    ServiceUrl b1 = ServiceUrl.parse("a.b.d/1");

    assertThat(a1).isLessThan(a2);
    assertThat(a2).isLessThan(b1);
    assertThat(ServiceName.parse("a.b.c").contains(a2)).isTrue();
    assertThat(ServiceName.parse("a.b.d").contains(a2)).isFalse();
  }
}
