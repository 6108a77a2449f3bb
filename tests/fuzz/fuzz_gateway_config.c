/*
 * fuzz_gateway_config.c: libFuzzer target for the sample gateway's
 * configuration parser (examples/gateway/config.c).
 *
 * Whatever the bytes, the parser must either refuse them with a message
 * that names the file, or give a config that is coherent: it passes
 * xs2s_config_check(), every component's domain is local, and at least one
 * listener is set.
 */
#include <stdint.h>
#include <string.h>

#include "../../examples/gateway/config.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  gw_config *cfg = NULL;
  int rc = gw_config_parse((const char *)data, size, "fuzz.xml", "/nonexistent",
                           &cfg, err, sizeof(err));
  if (rc < 0) {
    FUZZ_ASSERT(cfg == NULL);
    FUZZ_ASSERT(strncmp(err, "fuzz.xml:", 9) == 0);
    return 0;
  }
  FUZZ_ASSERT(rc == 0 && cfg != NULL);
  FUZZ_ASSERT(xs2s_config_check(cfg->xs2s, err, sizeof(err)) == 0);
  FUZZ_ASSERT(xs2s_config_listener_count(cfg->xs2s) > 0);
  FUZZ_ASSERT(cfg->component_address != NULL);
  for (size_t i = 0; i < cfg->component_count; i++) {
    FUZZ_ASSERT(xs2s_config_is_local(cfg->xs2s, cfg->components[i].domain));
    FUZZ_ASSERT(gw_config_component(cfg, cfg->components[i].domain) ==
                &cfg->components[i]);
  }
  gw_config_free(cfg);
  return 0;
}
