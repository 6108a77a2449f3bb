#!/bin/sh
# Installs the Debian packages listed in scripts/debian-packages.txt.
set -eu
here=$(dirname "$0")
packages=$(sed -e 's/#.*//' "$here/debian-packages.txt" | tr -s ' \n' ' ')
if [ "$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# Services (prosody) must not start on install: the tests start their own.
printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
$sudo chmod +x /usr/sbin/policy-rc.d
$sudo apt-get install -y -q --no-install-recommends $packages
$sudo rm -f /usr/sbin/policy-rc.d
