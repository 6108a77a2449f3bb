/*
 * config.h: the gateway's configuration file (gateway.xml), read with
 * libxml2 into an xs2s_config plus the settings only the gateway has
 * (components, the component listener, logging).
 *
 * The format is described in docs/GATEWAY.md and shown, commented, in
 * examples/gateway/gateway.xml. Every problem is reported as one line that
 * names the file and line: "gateway.xml:12: unknown attribute 'sercet' on
 * <component>".
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <xs2s/xs2s.h>

/* Default address of the component listener: loopback only, the port
 * XEP-0114 deployments customarily use. */
#define GW_DEFAULT_COMPONENT_ADDRESS "127.0.0.1:5347"

/* Largest configuration file read (bytes). */
#define GW_CONFIG_MAX_BYTES (1024 * 1024)

/* Severity of a log line; a line is written when its level is at most the
 * configured one. */
typedef enum gw_log_level {
  GW_LOG_ERROR = 0,
  GW_LOG_WARNING = 1,
  GW_LOG_INFO = 2,
  GW_LOG_DEBUG = 3
} gw_log_level;

/* One XEP-0114 component the gateway accepts. */
typedef struct gw_component_conf {
  char *domain; /* normal form (as xs2s_config stores local domains) */
  char *secret; /* the handshake secret */
  int line;     /* where it was configured */
} gw_component_conf;

typedef struct gw_config {
  xs2s_config *xs2s;          /* the engine's part (owned) */
  char *component_address;    /* "127.0.0.1:5347" or "[::1]:5347" */
  gw_component_conf *components;
  size_t component_count;
  gw_log_level log_level;     /* default GW_LOG_INFO */
  uint64_t status_interval_ms; /* 0: status line only on SIGUSR1 */
} gw_config;

/* Reads and checks @path. Relative file names inside the file are taken
 * relative to the directory of @path. On success *@out is a new config
 * (free with gw_config_free()) and 0 is returned; otherwise -1 with one
 * line in @err ("PATH:LINE: problem", or "PATH: problem" for problems of
 * the whole file). */
int gw_config_load(const char *path, gw_config **out, char *err,
                   size_t err_size);

/* As gw_config_load() for a file already in memory. @name is used in
 * messages; @base_dir resolves relative file names (NULL: the current
 * directory). */
int gw_config_parse(const char *xml, size_t len, const char *name,
                    const char *base_dir, gw_config **out, char *err,
                    size_t err_size);

/* Frees a config; NULL is allowed. Secrets are wiped. */
void gw_config_free(gw_config *cfg);

/* The component configured for @domain (any spelling), or NULL. */
const gw_component_conf *gw_config_component(const gw_config *cfg,
                                             const char *domain);

/* A canonical text of every engine setting, with the identity (inode,
 * size, modification time) of every file it names, so that two configs
 * compare equal exactly when an engine made from either would behave the
 * same, certificates renewed in place included. Secrets are part of it:
 * never print it. Malloc'ed; NULL when out of memory. */
char *gw_config_engine_text(const xs2s_config *x);

/* "error", "warning", "info", "debug"; NULL out of range. */
const char *gw_log_level_name(gw_log_level level);

#endif /* GW_CONFIG_H */
