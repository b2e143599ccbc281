package io.skymesh.benchmarks;

import io.micrometer.observation.ObservationHandler;
import io.micrometer.observation.ObservationRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.micrometer.tracing.Tracer;
import io.micrometer.tracing.handler.DefaultTracingObservationHandler;
import io.micrometer.tracing.handler.PropagatingReceiverTracingObservationHandler;
import io.micrometer.tracing.handler.PropagatingSenderTracingObservationHandler;
import io.micrometer.tracing.propagation.Propagator;
import io.skymesh.mesh.MeshBuilder;

/**
 * The {@code observability} parameter of the mesh benchmarks, so the cost of metering and observing
 * is measured in the same run as the plain path: {@code off} (the default mesh), {@code meters} (a
 * Prometheus registry, as a scraped service has), {@code tracing} (the same meters, and every call
 * and handler observed through Micrometer Tracing's handlers with a no-op tracer and propagator:
 * the instrumentation's own cost, without a tracer's).
 */
final class Observability {

  private Observability() {}

  /** No registry: the default mesh. */
  static final String OFF = "off";

  /** A Prometheus meter registry. */
  static final String METERS = "meters";

  /** The meters, and observations through a no-op tracer. */
  static final String TRACING = "tracing";

  /**
   * Configures {@code mesh} for {@code mode}.
   *
   * @throws IllegalArgumentException for an unknown mode
   */
  static MeshBuilder apply(String mode, MeshBuilder mesh) {
    return switch (mode) {
      case OFF -> mesh;
      case METERS -> mesh.meterRegistry(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
      case TRACING -> {
        ObservationRegistry observations = ObservationRegistry.create();
        observations
            .observationConfig()
            .observationHandler(
                new ObservationHandler.FirstMatchingCompositeObservationHandler(
                    new PropagatingSenderTracingObservationHandler<>(Tracer.NOOP, Propagator.NOOP),
                    new PropagatingReceiverTracingObservationHandler<>(
                        Tracer.NOOP, Propagator.NOOP),
                    new DefaultTracingObservationHandler(Tracer.NOOP)));
        yield mesh.meterRegistry(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))
            .observationRegistry(observations);
      }
      default ->
          throw new IllegalArgumentException(
              "observability: \"" + mode + "\" (expected: off, meters or tracing)");
    };
  }
}
