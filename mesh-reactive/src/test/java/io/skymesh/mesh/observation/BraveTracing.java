package io.skymesh.mesh.observation;

import brave.Tracing;
import brave.context.slf4j.MDCScopeDecorator;
import brave.handler.MutableSpan;
import brave.handler.SpanHandler;
import brave.propagation.ThreadLocalCurrentTraceContext;
import brave.propagation.TraceContext;
import brave.sampler.Sampler;
import io.micrometer.observation.ObservationHandler;
import io.micrometer.observation.ObservationRegistry;
import io.micrometer.tracing.brave.bridge.BraveBaggageManager;
import io.micrometer.tracing.brave.bridge.BraveCurrentTraceContext;
import io.micrometer.tracing.brave.bridge.BravePropagator;
import io.micrometer.tracing.brave.bridge.BraveTracer;
import io.micrometer.tracing.brave.bridge.W3CPropagation;
import io.micrometer.tracing.handler.DefaultTracingObservationHandler;
import io.micrometer.tracing.handler.PropagatingReceiverTracingObservationHandler;
import io.micrometer.tracing.handler.PropagatingSenderTracingObservationHandler;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One process's tracer for tests: Brave behind Micrometer Tracing with W3C propagation, the trace
 * id in the MDC while a span is in scope, every span sampled and collected into a shared list when
 * it ends. An application wires the same handlers (Spring Boot does it for it).
 */
final class BraveTracing implements AutoCloseable {

  /** Finished spans of every tracer of a test, in the order they ended. */
  static final class Spans extends SpanHandler {
    final List<MutableSpan> finished = new CopyOnWriteArrayList<>();

    @Override
    public boolean end(TraceContext context, MutableSpan span, Cause cause) {
      finished.add(span);
      return true;
    }

    /** The one finished span of this name, failing if there is none or more. */
    MutableSpan named(String name) {
      List<MutableSpan> matching = finished.stream().filter(s -> name.equals(s.name())).toList();
      if (matching.size() != 1) {
        throw new AssertionError("spans named " + name + ": " + matching + " of " + finished);
      }
      return matching.get(0);
    }
  }

  private final Tracing tracing;
  final ObservationRegistry registry = ObservationRegistry.create();

  BraveTracing(String serviceName, Spans spans) {
    tracing =
        Tracing.newBuilder()
            .localServiceName(serviceName)
            .currentTraceContext(
                ThreadLocalCurrentTraceContext.newBuilder()
                    .addScopeDecorator(MDCScopeDecorator.get())
                    .build())
            .propagationFactory(new W3CPropagation())
            .traceId128Bit(true)
            .sampler(Sampler.ALWAYS_SAMPLE)
            .addSpanHandler(spans)
            .build();
    BraveTracer tracer =
        new BraveTracer(
            tracing.tracer(),
            new BraveCurrentTraceContext(tracing.currentTraceContext()),
            new BraveBaggageManager());
    BravePropagator propagator = new BravePropagator(tracing);
    registry
        .observationConfig()
        .observationHandler(
            new ObservationHandler.FirstMatchingCompositeObservationHandler(
                new PropagatingSenderTracingObservationHandler<>(tracer, propagator),
                new PropagatingReceiverTracingObservationHandler<>(tracer, propagator),
                new DefaultTracingObservationHandler(tracer)));
  }

  /**
   * The trace id in scope on this thread, what Brave's MDC decorator puts under {@code traceId}
   * (the tests' SLF4J binding has no MDC), or {@code null}.
   */
  String currentTraceId() {
    TraceContext context = tracing.currentTraceContext().get();
    return context == null ? null : context.traceIdString();
  }

  @Override
  public void close() {
    tracing.close();
  }
}
