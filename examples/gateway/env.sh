# Shell functions shared by examples/demo.sh and the gateway tests: a
# private directory with certificates, resolver data and gateway configs
# for domains served on loopback addresses. Source it; needs $BUILD (the
# build directory) and $SRC (the source tree).

gw_require() {
  command -v certtool >/dev/null || {
    echo "certtool not found: install the Debian package gnutls-bin" >&2; exit 1; }
  /usr/bin/python3 -c 'import slixmpp' 2>/dev/null || {
    echo "slixmpp not found: install the Debian package python3-slixmpp" >&2; exit 1; }
  [ -x "$BUILD/examples/gateway/xs2s-gateway" ] || {
    echo "xs2s-gateway not built in $BUILD" >&2; exit 1; }
}

# gw_env DIR: certificates (DIR/certs) and an empty resolver file.
gw_env() {
  GW_DIR=$1
  mkdir -p "$GW_DIR"
  sh "$SRC/tests/data/make-certs.sh" "$GW_DIR/certs" >/dev/null
  {
    echo 'server:'
    echo '  local-zone: "." static'
  } >"$GW_DIR/dns.conf"
}

# gw_dns DOMAIN ADDRESS: an SRV record and an address for DOMAIN's server.
gw_dns() {
  cat >>"$GW_DIR/dns.conf" <<DNS
  local-data: "_xmpp-server._tcp.$1. 60 IN SRV 0 0 5269 xmpp.$1."
  local-data: "xmpp.$1. 60 IN A $2"
DNS
}

# gw_config NAME DOMAIN ADDRESS SECRET [EXTRA-XML]: DIR/NAME.xml for a
# gateway serving DOMAIN on ADDRESS:5269 with its component (SECRET) on
# ADDRESS:5347; STARTTLS required, certificates from the test CA not
# trusted, so domains prove themselves with dialback.
gw_config() {
  cat >"$GW_DIR/$1.xml" <<XML
<gateway>
  <log level='${GW_LOG_LEVEL:-info}'/>
  <domain name='$2' certificate='certs/$2.pem' key='certs/$2.key'/>
  <listen address='$3:5269'/>
  <components address='$3:5347'>
    <component domain='$2' secret='$4'/>
  </components>
  <dialback secret='dialback-secret-of-$1'/>
  <security tls='required'/>
  <resolver unbound-config='dns.conf'/>
  <timeouts connect='2s' retry-min='1s' retry-max='2s'/>
  ${5:-}
</gateway>
XML
}

# gw_start NAME: runs the gateway in the background, its log in
# DIR/NAME.log (and on stdout prefixed with NAME when GW_ECHO=1); waits
# until it listens for components.
gw_start() {
  # The gateway records its own pid, so that only it is signalled.
  run="echo \$\$ >'$GW_DIR/$1.pid'; exec '$BUILD/examples/gateway/xs2s-gateway' -c '$GW_DIR/$1.xml'"
  if [ "${GW_ECHO:-0}" = 1 ]; then
    sh -c "$run" 2>&1 | tee "$GW_DIR/$1.log" |
      sed -u -e 's/^[0-9-]*T\([0-9:.]*\)Z /\1 /' -e "s/^/  $1 | /" &
  else
    sh -c "$run" 2>"$GW_DIR/$1.log" &
  fi
  for _ in $(seq 100); do
    grep -q "listening for components" "$GW_DIR/$1.log" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "listening for components" "$GW_DIR/$1.log" || {
    echo "gateway $1 did not start:" >&2; cat "$GW_DIR/$1.log" >&2; return 1; }
}

# gw_pid NAME: the pid of gateway NAME.
gw_pid() {
  cat "$GW_DIR/$1.pid" 2>/dev/null
}

# gw_stop NAME: SIGTERM, then wait for the process; fails unless it exits
# and logs "stopped" within 10 s.
gw_stop() {
  pid=$(gw_pid "$1")
  [ -n "$pid" ] || { echo "gateway $1 is not running" >&2; return 1; }
  kill -TERM "$pid"
  # With GW_ECHO=1 the log is written through tee, so its last line may
  # land a moment after the process has gone: wait for both.
  for _ in $(seq 100); do
    if ! kill -0 "$pid" 2>/dev/null && grep -q " stopped$" "$GW_DIR/$1.log"; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# gw_component ARGS...: the slixmpp component (component.py).
gw_component() {
  /usr/bin/python3 "$SRC/examples/gateway/component.py" "$@"
}
