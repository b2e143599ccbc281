package io.skymesh.grpc;

import io.grpc.Attributes;
import io.skymesh.core.ServiceUrl;
import java.util.Map;

/**
 * The mesh's knowledge of an instance, as {@link Attributes} on the {@code EquivalentAddressGroup}
 * the resolver gives gRPC's load balancer: a custom {@code LoadBalancer} reads them with {@code
 * eag.getAttributes().get(SkymeshAttributes.INSTANCE_ATTRIBUTES)}.
 */
public final class SkymeshAttributes {

  /**
   * The instance attribute holding a gRPC server's {@code host:port}. {@link GrpcRegistration} sets
   * it; the resolver gives gRPC the instances that have it and skips the rest (an instance's mesh
   * address is its peer listener, not a gRPC port).
   */
  public static final String GRPC_ADDRESS = "grpc.address";

  /** The instance's ServiceUrl. */
  public static final Attributes.Key<ServiceUrl> SERVICE_URL =
      Attributes.Key.create("skymesh.serviceUrl");

  /** The instance's attributes, as registered and updated in the name server. */
  public static final Attributes.Key<Map<String, String>> INSTANCE_ATTRIBUTES =
      Attributes.Key.create("skymesh.attributes");

  /** The instance's registered weight (at least 1). */
  public static final Attributes.Key<Integer> WEIGHT = Attributes.Key.create("skymesh.weight");

  /** The id of the mesh process that registered the instance. */
  public static final Attributes.Key<String> PROCESS_ID =
      Attributes.Key.create("skymesh.processId");

  private SkymeshAttributes() {}
}
