package io.skymesh.mesh;

/**
 * A change of one instance's leadership, as {@link MeshService#campaign()} reports it.
 *
 * @param type gained or lost
 * @param term the term gained, or the term that was lost
 */
public record Leadership(Type type, long term) {

  /** Whether leadership was gained or lost. */
  public enum Type {
    /** The instance leads from now, with {@link Leadership#term()}. */
    GAINED,
    /** The instance no longer leads; {@link Leadership#term()} is the term it held. */
    LOST
  }

  /**
   * Leadership gained.
   *
   * @param term the new term
   * @return the value
   */
  public static Leadership gained(long term) {
    return new Leadership(Type.GAINED, term);
  }

  /**
   * Leadership lost.
   *
   * @param term the term that ended
   * @return the value
   */
  public static Leadership lost(long term) {
    return new Leadership(Type.LOST, term);
  }

  /** Whether this is a gain. */
  public boolean gained() {
    return type == Type.GAINED;
  }
}
