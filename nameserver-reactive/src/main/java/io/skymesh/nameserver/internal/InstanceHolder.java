package io.skymesh.nameserver.internal;

import java.util.Set;

/** What holds live instances: a client's session. Confined to the writer. */
interface InstanceHolder {

  /** The holder's id, for messages. */
  String id();

  /** The canonical urls of the instances it holds; the instance table keeps it up to date. */
  Set<String> owned();
}
