package io.skymesh.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.core.exceptions.AlreadyRegisteredException;
import io.skymesh.core.exceptions.RemoteException;
import io.skymesh.core.exceptions.ServiceNotFoundException;
import io.skymesh.core.exceptions.SkymeshException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import org.junit.jupiter.api.Test;

class StatusesTest {

  @Test
  void everyErrorCodeRoundTripsThroughAnException() {
    for (StatusCode code : StatusCode.values()) {
      if (code == StatusCode.OK || code == StatusCode.UNRECOGNIZED) {
        continue;
      }
      SkymeshException error =
          Statuses.toException(Status.newBuilder().setCode(code).setMessage("m").build(), "ctx");

      assertThat(error.getMessage()).contains("ctx").contains("m");
      assertThat(Statuses.toStatus(error).getCode()).isEqualTo(code);
    }
  }

  @Test
  void specificCodesGetSpecificExceptions() {
    assertThat(Statuses.toException(status(StatusCode.NOT_FOUND), "a.b.c/1"))
        .isInstanceOf(ServiceNotFoundException.class)
        .hasMessage("a.b.c/1: gone");
    assertThat(Statuses.toException(status(StatusCode.ALREADY_EXISTS), ""))
        .isInstanceOf(AlreadyRegisteredException.class);
    assertThat(Statuses.toException(status(StatusCode.UNIMPLEMENTED), ""))
        .isInstanceOf(RemoteException.class)
        .hasMessage("UNIMPLEMENTED: gone");
  }

  @Test
  void aRemoteExceptionCrossesAgainWithItsCodeAndMessageUnchanged() {
    SkymeshException error = Statuses.toException(StatusCode.INVALID_ARGUMENT, "no name");

    assertThat(error).isInstanceOf(RemoteException.class).hasMessage("INVALID_ARGUMENT: no name");
    assertThat(Statuses.toStatus(error))
        .isEqualTo(
            Status.newBuilder().setCode(StatusCode.INVALID_ARGUMENT).setMessage("no name").build());
  }

  @Test
  void foreignErrorsGetGenericCodes() {
    assertThat(Statuses.toStatus(new IllegalArgumentException("bad")).getCode())
        .isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(Statuses.toStatus(new IllegalStateException()).getCode())
        .isEqualTo(StatusCode.UNKNOWN);
    assertThat(Statuses.toStatus(new IllegalStateException()).getMessage())
        .isEqualTo("java.lang.IllegalStateException");
  }

  private static Status status(StatusCode code) {
    return Status.newBuilder().setCode(code).setMessage("gone").build();
  }
}
