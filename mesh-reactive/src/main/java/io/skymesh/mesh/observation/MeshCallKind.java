package io.skymesh.mesh.observation;

/** What kind of mesh call an observation covers, as the {@code kind} key shows it. */
public enum MeshCallKind {
  /** A request that waits for a reply ({@code MeshService.request}). */
  REQUEST("request"),
  /** A request without a reply ({@code MeshService.notify}). */
  NOTIFY("notify"),
  /** A message ({@code MeshService.sendTo}, {@code sendToLeader}): a {@code Data} frame. */
  SEND("send");

  private final String value;

  MeshCallKind(String value) {
    this.value = value;
  }

  /** The key's value: {@code request}, {@code notify} or {@code send}. */
  public String value() {
    return value;
  }
}
