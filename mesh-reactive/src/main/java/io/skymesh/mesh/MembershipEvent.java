package io.skymesh.mesh;

import java.util.Objects;

/**
 * A change in the membership of a service, as {@link NameRouter#members()} tells it.
 *
 * @param type what happened
 * @param instance the instance; for {@link Type#REMOVED}, as it was last known
 * @param revision the name-server revision of the change
 */
public record MembershipEvent(Type type, Instance instance, long revision) {

  /** What happened to an instance. */
  public enum Type {
    /** The instance joined (or was there when the subscriber came). */
    ADDED,
    /** Its attributes, weight or address changed. */
    UPDATED,
    /** It left: deregistered, its session ended, or it was cleared. */
    REMOVED
  }

  /** Creates an event. */
  public MembershipEvent {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(instance, "instance");
  }
}
