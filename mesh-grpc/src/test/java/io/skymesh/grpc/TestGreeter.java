package io.skymesh.grpc;

import com.google.protobuf.StringValue;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;

/** A unary greeter over well-known protobuf types, answering with the name of its server. */
final class TestGreeter {

  static final MethodDescriptor<StringValue, StringValue> SAY_HELLO =
      MethodDescriptor.<StringValue, StringValue>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName(MethodDescriptor.generateFullMethodName("test.Greeter", "SayHello"))
          .setRequestMarshaller(ProtoUtils.marshaller(StringValue.getDefaultInstance()))
          .setResponseMarshaller(ProtoUtils.marshaller(StringValue.getDefaultInstance()))
          .build();

  private TestGreeter() {}

  /** Starts a greeter server named {@code name} on a free loopback port. */
  static Server start(String name) {
    ServerServiceDefinition service =
        ServerServiceDefinition.builder("test.Greeter")
            .addMethod(
                SAY_HELLO,
                ServerCalls.asyncUnaryCall(
                    (request, response) -> {
                      response.onNext(StringValue.of(name));
                      response.onCompleted();
                    }))
            .build();
    try {
      return Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
          .addService(service)
          .build()
          .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Calls the greeter and returns the name of the server that answered (blocks: test threads). */
  static String call(Channel channel) {
    return ClientCalls.blockingUnaryCall(
            channel,
            SAY_HELLO,
            CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS),
            StringValue.of("test"))
        .getValue();
  }
}
