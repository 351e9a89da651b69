#!/usr/bin/env bash
# Set up logship and a local Docker engine, start two demo containers, and ship their lines
# to the console with `logship run` until Ctrl-C. Extra arguments go to `logship run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
bash scripts/setup-venv.sh
IMAGE="${LOGSHIP_TEST_IMAGE:-logship-test/busybox:1.35}"
cleanup() { docker rm -f logship-demo-web logship-demo-worker >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
docker run -d --network none --name logship-demo-web --label app=web --label tier=front "$IMAGE" \
  sh -c 'i=0; while true; do i=$((i+1)); echo "GET /item/$i 200"; sleep 1; done' >/dev/null
docker run -d --network none --name logship-demo-worker --label app=worker "$IMAGE" \
  sh -c 'i=0; while true; do i=$((i+1)); echo "job $i done"; echo "job $i: slow disk" >&2; sleep 2; done' >/dev/null
echo "demo: two containers started (logship-demo-web, logship-demo-worker); Ctrl-C to stop" >&2
.venv/bin/logship run --backlog --include-name 'logship-demo-*' "$@"
