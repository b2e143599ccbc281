package io.skymesh.mesh.internal.routing;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Instance;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The ring's sort orders points by value, then equal points by their owners' urls, exactly as a
 * comparison sort of the pairs does, whether the points spread over the whole ring or pile into a
 * few buckets; its index finds the first point at or after a hash.
 */
class ConsistentHashSortTest {

  @ParameterizedTest(name = "{0} points over {1} instances, values below {2} (0: any)")
  @CsvSource({
    "0, 1, 0",
    "1, 1, 0",
    "7, 3, 0",
    "160, 1, 0",
    "5000, 40, 0",
    "5000, 40, 16",
    "70000, 500, 0",
    "70000, 500, 1000",
    "100000, 2000, 0"
  })
  void sortsLikeAComparisonSortOfPointThenUrl(int size, int instanceCount, long bound) {
    List<Instance> instances = new ArrayList<>();
    for (int i = 0; i < instanceCount; i++) {
      // Ids in an order unlike the indices, so a tie broken by index would show.
      instances.add(
          new Instance(
              ServiceUrl.parse("game.zone1.ring/i" + ((i * 7919) % instanceCount)),
              "127.0.0.1:1",
              1,
              Map.of(),
              "p",
              1));
    }
    Random random = new Random(size * 31L + bound);
    long[] points = new long[size];
    int[] owners = new int[size];
    for (int i = 0; i < size; i++) {
      // Negative and positive values alike; a small bound makes many equal points.
      points[i] = bound == 0 ? random.nextLong() : random.nextLong() % bound;
      owners[i] = random.nextInt(instanceCount);
    }
    Integer[] expected = IntStream.range(0, size).boxed().toArray(Integer[]::new);
    Arrays.sort(
        expected,
        Comparator.<Integer>comparingLong(i -> points[i])
            .thenComparing(i -> instances.get(owners[i]).url()));
    long[] expectedPoints = new long[size];
    String[] expectedUrls = new String[size];
    for (int i = 0; i < size; i++) {
      expectedPoints[i] = points[expected[i]];
      expectedUrls[i] = instances.get(owners[expected[i]]).url().toString();
    }

    ConsistentHashPolicy.sort(points, owners, instances);

    assertThat(points).isEqualTo(expectedPoints);
    String[] urls = new String[size];
    for (int i = 0; i < size; i++) {
      urls[i] = instances.get(owners[i]).url().toString();
    }
    assertThat(urls).isEqualTo(expectedUrls);
  }

  @ParameterizedTest(name = "{0} points, values below {1} (0: any)")
  @CsvSource({
    "1, 0",
    "3, 0",
    "7, 0",
    "8, 0",
    "9, 0",
    "160, 0",
    "5000, 0",
    "5000, 16",
    "160000, 0",
    "160000, 1000"
  })
  void theIndexFindsTheFirstPointAtOrAfterAHashAsABinarySearchDoes(int size, long bound) {
    Random random = new Random(size * 17L + bound);
    long[] points = new long[size];
    for (int i = 0; i < size; i++) {
      points[i] = bound == 0 ? random.nextLong() : random.nextLong() % bound;
    }
    Arrays.sort(points);
    ConsistentHashPolicy.RingIndex index = ConsistentHashPolicy.RingIndex.of(points);
    List<Long> hashes = new ArrayList<>();
    for (int i = 0; i < 20_000; i++) {
      hashes.add(bound == 0 ? random.nextLong() : random.nextLong() % (bound + 2));
    }
    // The ring's own points, their neighbours, and both ends of the range.
    for (int i = 0; i < size; i += Math.max(1, size / 1000)) {
      hashes.addAll(List.of(points[i], points[i] - 1, points[i] + 1));
    }
    hashes.addAll(List.of(Long.MIN_VALUE, Long.MIN_VALUE + 1, -1L, 0L, 1L, Long.MAX_VALUE));
    for (long hash : hashes) {
      // A lower-bound binary search: the first point not below the hash.
      int low = 0;
      int high = size;
      while (low < high) {
        int middle = (low + high) >>> 1;
        if (points[middle] < hash) {
          low = middle + 1;
        } else {
          high = middle;
        }
      }
      int expected = low;
      assertThat(index.firstAtOrAfter(points, hash)).as("hash %d", hash).isEqualTo(expected);
    }
  }
}
