/* RFC 6120 conditions: names round-trip, unknown names are refused. */
#include <xs2s/xs2s.h>

#include "check.h"

static void test_stream_round_trip(void) {
  int n = 0;
  for (int c = 1; c < XS2S_STREAM_ERR_COUNT_; c++, n++) {
    const char *name = xs2s_stream_condition_name((xs2s_stream_condition)c);
    CHECK(name != NULL);
    CHECK_INT(xs2s_stream_condition_from_name(name), c);
  }
  CHECK_INT(n, 25); /* RFC 6120 section 4.9.3 defines 25 conditions */
  CHECK_STR(xs2s_stream_condition_name(XS2S_STREAM_ERR_HOST_UNKNOWN),
            "host-unknown");
  CHECK(xs2s_stream_condition_name(XS2S_STREAM_ERR_NONE) == NULL);
  CHECK(xs2s_stream_condition_name(XS2S_STREAM_ERR_COUNT_) == NULL);
  CHECK_INT(xs2s_stream_condition_from_name("host-unkown"),
            XS2S_STREAM_ERR_NONE);
  CHECK_INT(xs2s_stream_condition_from_name(NULL), XS2S_STREAM_ERR_NONE);
}

static void test_stanza_round_trip(void) {
  int n = 0;
  for (int c = 1; c < XS2S_STANZA_ERR_COUNT_; c++, n++) {
    const char *name = xs2s_stanza_condition_name((xs2s_stanza_condition)c);
    CHECK(name != NULL);
    CHECK_INT(xs2s_stanza_condition_from_name(name), c);
    const char *type = xs2s_stanza_condition_type((xs2s_stanza_condition)c);
    CHECK(type && (!strcmp(type, "cancel") || !strcmp(type, "modify") ||
                   !strcmp(type, "auth") || !strcmp(type, "wait")));
  }
  /* RFC 6120 section 8.3.3 defines 22 conditions, XEP-0220 one more. */
  CHECK_INT(n, 23);
  CHECK_STR(
      xs2s_stanza_condition_name(XS2S_STANZA_ERR_REMOTE_CONNECTION_FAILED),
      "remote-connection-failed");
  CHECK_STR(xs2s_stanza_condition_name(XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND),
            "remote-server-not-found");
  CHECK_STR(xs2s_stanza_condition_type(XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT),
            "wait");
  CHECK_INT(xs2s_stanza_condition_from_name("no-such"), XS2S_STANZA_ERR_NONE);
}

static void test_from_error(void) {
  CHECK_INT(xs2s_stream_condition_from_error(XS2S_ERR_RESTRICTED_XML),
            XS2S_STREAM_ERR_RESTRICTED_XML);
  CHECK_INT(xs2s_stream_condition_from_error(XS2S_ERR_LIMIT),
            XS2S_STREAM_ERR_POLICY_VIOLATION);
  CHECK_INT(xs2s_stream_condition_from_error(XS2S_ERR_UNSUPPORTED_ENCODING),
            XS2S_STREAM_ERR_UNSUPPORTED_ENCODING);
  CHECK_INT(xs2s_stream_condition_from_error(XS2S_ERR_NOMEM),
            XS2S_STREAM_ERR_RESOURCE_CONSTRAINT);
  CHECK_INT(xs2s_stream_condition_from_error(XS2S_ERR_DNS_NXDOMAIN),
            XS2S_STREAM_ERR_UNDEFINED_CONDITION);
}

int main(void) {
  RUN(test_stream_round_trip);
  RUN(test_stanza_round_trip);
  RUN(test_from_error);
  return check_finish();
}
