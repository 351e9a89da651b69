#!/usr/bin/env bash
# Make this machine ready for logship's demo, tests and benchmarks (Debian/Ubuntu, as root):
# a Docker engine (started here if none answers), rsyslog, openssl, and the busybox test image.
# Safe to run again: every step checks before it acts.
set -euo pipefail

IMAGE="${LOGSHIP_TEST_IMAGE:-logship-test/busybox:1.35}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v rsyslogd >/dev/null 2>&1 || need+=(rsyslog)
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] || [ -e /usr/lib/rsyslog/lmnsd_gtls.so ] \
  || ls /usr/lib/*/rsyslog/lmnsd_gtls.so >/dev/null 2>&1 || need+=(rsyslog-gnutls)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q "statically linked" \
  || need+=(busybox-static)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v file >/dev/null 2>&1 || need+=(file)
# the page at / of the agent's HTTP server is tested in a real headless browser, with a font
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || need+=(fonts-dejavu-core)
[ -x /usr/sbin/debootstrap ] || need+=(debootstrap)  # a local base image for the image test
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)  # the compose example of docs/docker-host.md
# an agent listening on every address of a network namespace of its own (test_http_access.py)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# the benchmark's C receivers (bench/*.c, also built by tests/unit/bench/test_receivers.py)
# (and the hot modules compiled by mypyc: scripts/setup-venv.sh --compiled, which needs Python's headers)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -e /usr/include/stdio.h ] || need+=(libc6-dev)
python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  2>/dev/null || need+=(python3-dev)
[ -e /usr/include/zlib.h ] || need+=(zlib1g-dev)
[ -e /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
# the Grafana dashboard is checked against Grafana's published schema by the TypeScript compiler
# (tests/unit/deploy/test_dashboard_schema.py): node and npm, then tests/grafana's packages
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
# `logship completion zsh|fish` is loaded by the real shells (tests/unit/test_completion.py)
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)
# an ssh:// engine, reached through a real sshd of the test's own (tests/integration/test_ssh_engine.py)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup-host: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The packages the dashboard check uses, as tests/grafana/package-lock.json pins them
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -x "$root/tests/grafana/node_modules/.bin/tsc" ]; then
  echo "setup-host: installing tests/grafana's npm packages" >&2
  npm ci --prefix "$root/tests/grafana" --no-audit --no-fund --silent
fi

# A running engine? (any docker client; the one from docker.io negotiates down as needed)
engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if ! engine_up; then
  echo "setup-host: starting dockerd (log: /var/log/logship-dockerd.log)" >&2
  # no iptables or bridge in a sandbox; vfs works on any filesystem. Test containers use --network none.
  $SUDO sh -c 'nohup dockerd --iptables=false --bridge=none --storage-driver=vfs \
    >/var/log/logship-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do engine_up && break; sleep 0.5; done
  engine_up || { echo "setup-host: dockerd did not come up:" >&2; tail -20 /var/log/logship-dockerd.log >&2; exit 1; }
fi

# The test image: Debian's static busybox with every applet, imported (no registry needed).
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "setup-host: building $IMAGE from /bin/busybox" >&2
  dir=$(mktemp -d)
  mkdir -p "$dir/bin" "$dir/tmp"
  cp /bin/busybox "$dir/bin/busybox"
  for applet in $("$dir/bin/busybox" --list); do
    [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
  done
  tar -C "$dir" -c . | docker import - "$IMAGE" >/dev/null
  rm -rf "$dir"
fi
echo "setup-host: engine $(docker version --format '{{.Server.Version}}'), image $IMAGE ready" >&2
