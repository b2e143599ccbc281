package io.skymesh.mesh.observation;

/** What kind of mesh call an observation covers, as the {@code kind} key shows it. */
public enum MeshCallKind {
  /** A request that waits for a reply ({@code MeshService.request}). */
  REQUEST("request"),
  /** A request without a reply ({@code MeshService.notify}). */
  NOTIFY("notify"),
  /** A message ({@code MeshService.sendTo}, {@code sendToLeader}): a {@code Data} frame. */
  SEND("send"),
  /** A stream of replies ({@code MeshService.requestStream}, {@code requestChannel}). */
  STREAM("stream");

  private final String value;

  MeshCallKind(String value) {
    this.value = value;
  }

  /** The key's value: {@code request}, {@code notify}, {@code send} or {@code stream}. */
  public String value() {
    return value;
  }

  /**
   * Whether the caller waits for replies: a client / server span rather than producer / consumer.
   */
  public boolean answered() {
    return this == REQUEST || this == STREAM;
  }
}
