package io.skymesh.examples.election;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.mesh.Leader;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class ElectionDemoTest {

  @Test
  void leadershipFlipsBetweenTheTwoCandidatesWithAGrowingTerm() {
    List<String> printed = new CopyOnWriteArrayList<>();

    List<Leader> leaders;
    try {
      leaders = ElectionDemo.run(6, printed::add);
    } catch (RuntimeException e) {
      // The demo's own account of how far it got, for a run that stalls.
      throw new AssertionError("the demo failed; it had printed " + printed, e);
    }

    assertThat(leaders).hasSize(6);
    for (int i = 0; i < leaders.size(); i++) {
      assertThat(leaders.get(i).term()).isEqualTo(i + 1);
      if (i > 0) {
        assertThat(leaders.get(i).url()).isNotEqualTo(leaders.get(i - 1).url());
      }
    }
    assertThat(printed).contains("election.zone1.master/1: gained term 1");
    assertThat(printed).anyMatch(line -> line.endsWith(": lost term 1"));
  }
}
