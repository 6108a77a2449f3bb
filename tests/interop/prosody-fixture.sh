#!/bin/bash
# Starts and stops isolated Prosody instances for interop tests and
# benchmarks: one directory per instance (config, data, log, pid file,
# certificates), its own loopback address, names resolved from a hosts file
# of its own, no real DNS. See README.md beside this file.
#
# As a command:
#   prosody-fixture.sh start DIR --addr ADDR --domain NAME[=CERT]... [OPTIONS]
#   prosody-fixture.sh stop DIR
#   prosody-fixture.sh shell DIR 'CONSOLE LINE'
#   prosody-fixture.sh call DIR 'FUNCTION(ARGS)'   # prosody.xs2s_fixture.*
#   prosody-fixture.sh register DIR USER DOMAIN PASSWORD
#
# Sourced from bash (. prosody-fixture.sh): pf_start, pf_stop, pf_stop_all,
# pf_shell, pf_call, pf_register, pf_require, pf_listening, and
# pf_knot_start / pf_knot_stop for a DNS server of the test's own; pf_stop_all
# stops every instance this shell started (put it in an EXIT trap).
#
# An instance belongs to the process that started it (the caller of the
# command, the sourcing shell, or PF_OWNER_PID; "none" for no owner): if
# that process ends without stopping it, even by SIGKILL, a watchdog stops
# the instance and removes its directory (or PF_CLEANUP_DIR, say the test's
# temporary directory, if that was set at start) within a few seconds. A
# program that starts the command through system() must set PF_OWNER_PID
# to its own pid, since the caller is then a short-lived sh.
#
# start OPTIONS:
#   --addr ADDR                 address to listen on (127.0.0.x), required
#   --domain NAME[=CERT]        a VirtualHost; CERT names CERT.pem/CERT.key in
#                               --certs (default NAME); repeatable
#   --peer NAME=ADDR            resolve NAME to ADDR; repeatable
#   --dns ADDR[@PORT]           ask this DNS server for names that are not
#                               --peer or own names (SRV records, say)
#   --certs DIR                 certificates (make-certs.sh output)
#   --cafile FILE               trust anchors for peers (default DIR/ca.pem)
#   --require-encryption yes|no s2s_require_encryption (default yes)
#   --secure-auth yes|no        s2s_secure_auth (default no)
#   --tls yes|no                no: modules_disabled = { "tls" } (default yes)
#   --dialback yes|no           load mod_dialback (default yes)
#   --s2s-timeout SECONDS       s2s_timeout (Prosody's default 90)
#   --s2s-port PORT             default 5269
#   --c2s-port PORT             open c2s on PORT (default: no c2s port)
#   --log-level LEVEL           debug, info (default), warn, error
#   --option 'LUA'              extra global config line; repeatable
#   --module NAME               also load mod_NAME (e.g. smacks); repeatable
#
# Needs root (the instance runs as the user prosody) and the Debian packages
# prosody and lua-unbound.

PF_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PF_STARTED=()
PF_SHELL_TIMEOUT=${PF_SHELL_TIMEOUT:-300}

pf_die() {
  echo "prosody-fixture: $*" >&2
  return 1
}

# Fails with the package to install when something the fixture needs is
# missing.
pf_require() {
  [ "$(id -u)" -eq 0 ] ||
    { pf_die "must run as root (Prosody runs as the user prosody)"; return 1; }
  command -v prosody >/dev/null 2>&1 && command -v prosodyctl >/dev/null 2>&1 ||
    { pf_die "prosody not found: install the Debian package prosody"; return 1; }
  id prosody >/dev/null 2>&1 ||
    { pf_die "no user prosody: reinstall the Debian package prosody"; return 1; }
  # Prosody uses its built-in resolver (which ignores the fixture's hosts
  # file) unless lua-unbound is there; run its own interpreter to check.
  local lua
  lua=$(sed -n '1s/^#! *\(\/usr\/bin\/env \)\{0,1\}//p' "$(command -v prosody)")
  $lua -e 'require "lunbound"' >/dev/null 2>&1 ||
    { pf_die "lua-unbound not found: install the Debian package lua-unbound"; return 1; }
}

# True when something accepts TCP connections on ADDR:PORT.
pf_listening() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

pf_yesno() {
  case $2 in
    yes|true|1) echo true ;;
    no|false|0) echo false ;;
    *) pf_die "$1: expected yes or no, got '$2'"; return 1 ;;
  esac
}

# Lua string literal of a plain value (paths, domain names).
pf_q() {
  case $1 in
    *[\"\\]*) pf_die "unsupported character in '$1'"; return 1 ;;
  esac
  printf '"%s"' "$1"
}

pf_start() {
  local dir=${1:?usage: pf_start DIR --addr ADDR --domain NAME ...}
  shift
  pf_require || return 1
  local addr='' certs='' cafile='' reqenc=true secure=false tls=true
  local dialback=true timeout='' s2s_port=5269 c2s_port='' level=info dns=
  local -a domains=() peers=() options=() modules=()
  while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { pf_die "$1 needs a value"; return 1; }
    case $1 in
      --addr) addr=$2 ;;
      --domain) domains+=("$2") ;;
      --peer) peers+=("$2") ;;
      --dns) dns=$2 ;;
      --certs) certs=$2 ;;
      --cafile) cafile=$2 ;;
      --require-encryption) reqenc=$(pf_yesno "$1" "$2") || return 1 ;;
      --secure-auth) secure=$(pf_yesno "$1" "$2") || return 1 ;;
      --tls) tls=$(pf_yesno "$1" "$2") || return 1 ;;
      --dialback) dialback=$(pf_yesno "$1" "$2") || return 1 ;;
      --s2s-timeout) timeout=$2 ;;
      --s2s-port) s2s_port=$2 ;;
      --c2s-port) c2s_port=$2 ;;
      --log-level) level=$2 ;;
      --option) options+=("$2") ;;
      --module) modules+=("$2") ;;
      *) pf_die "unknown option $1"; return 1 ;;
    esac
    shift 2
  done
  [ -n "$addr" ] || { pf_die "--addr is required"; return 1; }
  [ ${#domains[@]} -gt 0 ] || { pf_die "at least one --domain is required"; return 1; }
  if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    pf_die "$dir exists and is not empty"; return 1
  fi
  if pf_listening "$addr" "$s2s_port"; then
    pf_die "$addr:$s2s_port is already in use"; return 1
  fi
  if [ -n "$c2s_port" ] && pf_listening "$addr" "$c2s_port"; then
    pf_die "$addr:$c2s_port is already in use"; return 1
  fi

  mkdir -p "$dir/data" "$dir/plugins" "$dir/certs" || return 1
  dir=$(cd "$dir" && pwd)
  cp "$PF_HERE/mod_xs2s_fixture.lua" "$dir/plugins/" || return 1

  # Names: this instance's own domains and its peers, nothing else.
  local d name cert
  {
    for d in "${domains[@]}"; do echo "$addr ${d%%=*}"; done
    for d in "${peers[@]}"; do
      case $d in
        *=*) echo "${d#*=} ${d%%=*}" ;;
        *) pf_die "--peer $d: expected NAME=ADDR"; return 1 ;;
      esac
    done
  } >"$dir/hosts" || return 1

  if [ -n "$certs" ]; then
    [ -n "$cafile" ] || cafile=$certs/ca.pem
    cp "$cafile" "$dir/certs/cafile.pem" || return 1
    for d in "${domains[@]}"; do
      cert=${d#*=}
      name=${d%%=*}
      # The direct-TLS port picks certificates by SNI through Prosody's
      # automatic search, which pairs NAME.crt with NAME.key.
      cp "$certs/$cert.pem" "$dir/certs/$name.crt" || return 1
      cp "$certs/$cert.key" "$dir/certs/$name.key" || return 1
      [ -f "$dir/certs/$cert.pem" ] && continue
      cp "$certs/$cert.pem" "$certs/$cert.key" "$dir/certs/" || return 1
    done
  fi

  local enabled='"admin_shell"; "ping"; "saslauth"; "xs2s_fixture";'
  local disabled=''
  $tls && enabled="$enabled \"tls\";" || disabled='"tls";'
  $dialback && enabled="$enabled \"dialback\";"
  for m in "${modules[@]}"; do enabled="$enabled $(pf_q "$m");"; done
  {
    echo "-- Written by prosody-fixture.sh for one test instance."
    echo "pidfile = $(pf_q "$dir/prosody.pid")"
    echo "data_path = $(pf_q "$dir/data")"
    echo "plugin_paths = { $(pf_q "$dir/plugins") }"
    echo "interfaces = { $(pf_q "$addr") }"
    echo "s2s_ports = { $s2s_port }"
    if [ -n "$c2s_port" ]; then
      echo "c2s_ports = { $c2s_port }"
    else
      echo "c2s_ports = { }"
    fi
    echo "http_ports = { }"
    echo "https_ports = { }"
    echo "log = { { levels = { min = $(pf_q "$level") }; to = \"file\"; filename = $(pf_q "$dir/prosody.log") } }"
    if [ -n "$dns" ]; then
      # libunbound answers every name under test. (RFC 6761) with NXDOMAIN
      # itself unless that zone is made transparent.
      echo "unbound = { hoststxt = $(pf_q "$dir/hosts"); resolvconf = false;" \
        "forward = $(pf_q "$dns"); options = { [\"local-zone:\"] = \"test. transparent\" } }"
    else
      # No forwarder: a name under test. that is not in the hosts file, and
      # every SRV lookup, gets NXDOMAIN at once (Prosody then connects to
      # port 5269 of the domain's A record). Only use names under test.:
      # others would be resolved from the root servers.
      echo "unbound = { hoststxt = $(pf_q "$dir/hosts"); resolvconf = false }"
    fi
    echo "modules_enabled = { $enabled }"
    echo "modules_disabled = { $disabled }"
    echo "s2s_require_encryption = $reqenc"
    echo "s2s_secure_auth = $secure"
    [ -n "$timeout" ] && echo "s2s_timeout = $timeout"
    echo "authentication = \"internal_plain\""
    for d in "${options[@]}"; do echo "$d"; done
    for d in "${domains[@]}"; do
      name=${d%%=*}
      cert=${d#*=}
      echo
      echo "VirtualHost $(pf_q "$name")"
      if [ -n "$certs" ]; then
        echo "  ssl = { certificate = $(pf_q "$dir/certs/$cert.pem"); key = $(pf_q "$dir/certs/$cert.key"); cafile = $(pf_q "$dir/certs/cafile.pem") }"
      fi
    done
  } >"$dir/prosody.cfg.lua" || return 1
  chmod 600 "$dir"/certs/*.key 2>/dev/null
  chown -R prosody:prosody "$dir" || return 1
  runuser -u prosody -- test -r "$dir/prosody.cfg.lua" ||
    { pf_die "the user prosody cannot read $dir: make its parents searchable (chmod 755)"; return 1; }

  PF_STARTED+=("$dir")
  if ! runuser -u prosody -- prosody --config "$dir/prosody.cfg.lua" -D \
      >"$dir/stdout.log" 2>&1; then
    cat "$dir/stdout.log" >&2
    pf_die "prosody did not start for $dir"
    return 1
  fi
  if ! pf_wait_ready "$dir" "$addr" "$s2s_port" "$c2s_port"; then
    pf_die "prosody for $dir is not ready; its log:"
    tail -n 30 "$dir/prosody.log" >&2
    pf_stop "$dir"
    return 1
  fi
  # Prosody detaches into a session of its own, where a test runner's kill
  # does not reach it: a watchdog stops it when its owner is gone.
  if [ "${PF_OWNER_PID:-}" != none ]; then
    setsid bash "$PF_HERE/prosody-fixture.sh" watch "$dir" \
      "${PF_OWNER_PID:-$$}" "${PF_CLEANUP_DIR:-$dir}" </dev/null >/dev/null 2>&1 &
  fi
}

# Stops the Prosody of DIR and removes CLEANUP (default DIR) once process
# OWNER has gone without stopping it; ends by itself when the instance
# stops.
pf_watch() {
  local dir=$1 owner=$2 cleanup=${3:-$1}
  while kill -0 "$owner" 2>/dev/null; do
    pf_pid "$dir" >/dev/null || return 0
    sleep 1
  done
  pf_pid "$dir" >/dev/null || return 0
  pf_stop "$dir"
  rm -rf "$cleanup"
}

# Waits (10 s at most) for the pid file, the admin socket and the ports.
pf_wait_ready() {
  local dir=$1 addr=$2 s2s_port=$3 c2s_port=$4
  for _ in $(seq 100); do
    if grep -q 'Failed to open server port' "$dir/prosody.log" 2>/dev/null; then
      return 1
    fi
    if [ -s "$dir/prosody.pid" ] && [ -S "$dir/data/prosody.sock" ] &&
        pf_listening "$addr" "$s2s_port" &&
        { [ -z "$c2s_port" ] || pf_listening "$addr" "$c2s_port"; }; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# True while process PID is the Prosody of DIR. An exited process may
# linger as a zombie until init reaps it; its command line is empty.
pf_alive() {
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2/prosody.cfg.lua"
}

# The pid in DIR's pid file if that process is the Prosody of DIR.
pf_pid() {
  local dir=$1 pid
  pid=$(cat "$dir/prosody.pid" 2>/dev/null) || return 1
  case $pid in ''|*[!0-9]*) return 1 ;; esac
  pf_alive "$pid" "$dir" || return 1
  echo "$pid"
}

# Stops the Prosody of DIR (TERM, then KILL after 10 s); keeps DIR.
pf_stop() {
  local dir=${1:?usage: pf_stop DIR} pid
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  pid=$(pf_pid "$dir") || return 0
  kill -TERM "$pid" 2>/dev/null
  # Prosody removes its pid file before it has finished.
  for _ in $(seq 200); do
    pf_alive "$pid" "$dir" || return 0
    sleep 0.05
  done
  echo "prosody-fixture: $dir did not stop, killing $pid" >&2
  kill -KILL "$pid" 2>/dev/null
  return 0
}

pf_stop_all() {
  local dir
  for dir in "${PF_STARTED[@]}"; do pf_stop "$dir"; done
  PF_STARTED=()
}

# pf_knot_start DIR ADDR@PORT RECORD...: knot serves the zone test. on
# ADDR@PORT, with each RECORD (a zone-file line, names relative to test.)
# besides its SOA and NS records; files in DIR. knotd runs in the
# background as a child of this shell, so that a runner's kill reaches it
# too (PF_KNOT_PID); returns once the zone is loaded, fails if it is not
# within 5 s or knot is missing. pf_knot_stop ends it.
pf_knot_start() {
  local dir=$1 listen=$2
  shift 2
  command -v knotd >/dev/null 2>&1 ||
    { pf_die "knotd not found: install the Debian package knot"; return 1; }
  mkdir -p "$dir" || return 1
  cat >"$dir/knot.conf" <<CONF
server:
  listen: $listen
  rundir: $dir
database:
  storage: $dir
log:
  - target: $dir/knot.log
    any: info
zone:
  - domain: test.
    file: $dir/test.zone
CONF
  {
    echo "\$ORIGIN test."
    echo "\$TTL 60"
    echo "@ SOA ns.test. admin.test. 1 60 60 600 60"
    echo "@ NS ns.test."
    echo "ns A ${listen%@*}"
    printf '%s\n' "$@"
  } >"$dir/test.zone"
  knotd -c "$dir/knot.conf" >/dev/null 2>&1 &
  PF_KNOT_PID=$!
  for _ in $(seq 50); do
    grep -q 'loaded, serial' "$dir/knot.log" 2>/dev/null && return 0
    sleep 0.1
  done
  pf_die "knot did not load its zone (see $dir/knot.log)"
}

pf_knot_stop() {
  [ -n "${PF_KNOT_PID:-}" ] || return 0
  kill "$PF_KNOT_PID" 2>/dev/null
  wait "$PF_KNOT_PID" 2>/dev/null
  PF_KNOT_PID=
}

# Runs one admin console line (a line starting with > is Lua inside the
# server) and prints its output; fails if the console reports an error.
pf_shell() {
  local dir=${1:?usage: pf_shell DIR LINE}
  timeout "$PF_SHELL_TIMEOUT" prosodyctl --config "$dir/prosody.cfg.lua" \
    shell "$2" </dev/null
}

# Calls prosody.xs2s_fixture.CALL (see mod_xs2s_fixture.lua) and prints
# what it returned.
pf_call() {
  local dir=${1:?usage: pf_call DIR 'FUNCTION(ARGS)'} out
  out=$(pf_shell "$dir" "> prosody.xs2s_fixture.$2") ||
    { echo "$out" >&2; return 1; }
  printf '%s\n' "${out#Result: }"
}

pf_register() {
  local dir=${1:?usage: pf_register DIR USER DOMAIN PASSWORD}
  prosodyctl --config "$dir/prosody.cfg.lua" register "$2" "$3" "$4" </dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  command=${1:-}
  [ $# -gt 0 ] && shift
  case $command in
    # The instance outlives this command; its owner is the caller.
    start) PF_OWNER_PID=${PF_OWNER_PID:-$PPID} pf_start "$@" ;;
    stop) pf_stop "$@" ;;
    shell) pf_shell "$@" ;;
    call) pf_call "$@" ;;
    register) pf_register "$@" ;;
    watch) pf_watch "$@" ;;
    *)
      sed -n '7,13p' "$0" | sed 's/^# \{0,1\}//' >&2
      exit 2
      ;;
  esac
fi
