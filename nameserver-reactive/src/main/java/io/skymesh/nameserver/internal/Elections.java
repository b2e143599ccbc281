package io.skymesh.nameserver.internal;

import io.skymesh.proto.Leader;
import io.skymesh.proto.Snapshot;
import io.skymesh.proto.WatchEvent;
import java.util.LinkedHashSet;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Elections: per ServiceName, the live campaigners in campaign order (the first leads) and the
 * term, which only grows. With a data directory, terms are handed out only under a ceiling logged
 * ahead of them, and every election of a new run starts at the last run's ceiling. Confined to the
 * writer.
 */
final class Elections {

  private static final Logger log = LoggerFactory.getLogger(Elections.class);

  /** How far the durable term ceiling runs ahead of the highest term handed out. */
  static final long TERM_BLOCK = 100;

  /**
   * One service's election. Kept after the last campaigner leaves, so that the term never goes
   * back.
   */
  private static final class Election {
    final String serviceName;

    /** Canonical ServiceUrls of live campaigners, earliest first. */
    final LinkedHashSet<String> candidates = new LinkedHashSet<>();

    /** The leading url, or null when nobody leads. */
    String leader;

    /** The term of the latest leader; the term floor before the first one. */
    long term;

    /** Whether the election has had a leader (and so is listed in snapshots). */
    boolean hadLeader;

    Election(String serviceName, long termFloor) {
      this.serviceName = serviceName;
      this.term = termFloor;
    }

    Leader toLeader() {
      return Leader.newBuilder()
          .setServiceName(serviceName)
          .setLeaderUrl(leader == null ? "" : leader)
          .setTerm(term)
          .build();
    }
  }

  /** Elections by canonical ServiceName; sorted, so a prefix is a range. */
  private final TreeMap<String, Election> elections = new TreeMap<>();

  private final Revisions revisions;
  private final Watches watches;
  private final DataLog dataLog;
  private final long termFloor;
  private long termCeiling;

  /**
   * @param termFloor the term every election starts from (0 in memory)
   * @param dataLog the data directory's log, or null in memory
   * @param termCeiling the durable term ceiling (with a data directory)
   */
  Elections(
      Revisions revisions, Watches watches, long termFloor, DataLog dataLog, long termCeiling) {
    this.revisions = revisions;
    this.watches = watches;
    this.termFloor = termFloor;
    this.dataLog = dataLog;
    this.termCeiling = termCeiling;
  }

  /** The durable term ceiling (0 in memory). */
  long termCeiling() {
    return termCeiling;
  }

  /**
   * Puts {@code url} in line in its service's election; campaigning again keeps its place. Returns
   * the revision of the leader change if it now leads, else the current revision.
   */
  long campaign(String url) {
    Election election =
        elections.computeIfAbsent(Ranges.serviceNameOf(url), name -> new Election(name, termFloor));
    if (election.candidates.add(url) && election.leader == null) {
      return changeLeader(election, url);
    }
    return revisions.current();
  }

  /** Removes {@code url} from its service's election; if it led, the next campaigner leads. */
  void leave(String url) {
    Election election = elections.get(Ranges.serviceNameOf(url));
    if (election == null || !election.candidates.remove(url)) {
      return;
    }
    if (url.equals(election.leader)) {
      changeLeader(
          election, election.candidates.isEmpty() ? null : election.candidates.iterator().next());
    }
  }

  /** Adds the leader of every election a snapshot of {@code watch} covers. */
  void addLeaders(Snapshot.Builder snapshot, WatchState watch) {
    if (watch.serviceName != null) {
      Election election = elections.get(watch.serviceName);
      if (election != null && election.hadLeader) {
        snapshot.addLeaders(election.toLeader());
      }
    } else {
      for (Election election : Ranges.startingWith(elections, watch.prefix).values()) {
        if (election.hadLeader) {
          snapshot.addLeaders(election.toLeader());
        }
      }
    }
  }

  /**
   * Makes {@code url} (null: nobody) the leader, with the next term if it is somebody, and
   * announces it at the next revision; returns that revision.
   */
  private long changeLeader(Election election, String url) {
    election.leader = url;
    if (url != null) {
      election.term++;
      election.hadLeader = true;
      if (dataLog != null && election.term > termCeiling - TERM_BLOCK / 2) {
        termCeiling = election.term + TERM_BLOCK;
        dataLog.termCeilingRaised(termCeiling);
      }
    }
    long changed = revisions.next();
    watches.publish(
        election.serviceName,
        WatchEvent.newBuilder().setRevision(changed).setLeaderChanged(election.toLeader()).build());
    log.debug(
        "{} leader: {} (term {})", election.serviceName, url == null ? "none" : url, election.term);
    return changed;
  }
}
