#!/usr/bin/env bash
# Make a Debian bookworm base image with Python 3.11 and venv, without any registry:
# debootstrap (minbase) from Debian's mirror, apt's caches and lists removed, `docker import`.
# For machines that reach Debian's packages but not Docker Hub (this project's test machines).
# Usage: scripts/make-base-image.sh [--builder] [TAG]   (default logship-local/python:3.11-bookworm)
# --builder: with a C compiler and Python's headers too, for the image's build stage (mypyc).
# Does nothing when the image exists already. Needs root and debootstrap (scripts/setup-host.sh).
set -euo pipefail
PACKAGES=python3,python3-venv
if [ "${1:-}" = "--builder" ]; then PACKAGES=$PACKAGES,gcc,libc6-dev,python3-dev; shift; fi
TAG="${1:-logship-local/python:3.11-bookworm}"
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$TAG" >/dev/null 2>&1; then
  exit 0
fi
DEBOOTSTRAP=$(command -v debootstrap || echo /usr/sbin/debootstrap)
[ -x "$DEBOOTSTRAP" ] || { echo "make-base-image: debootstrap missing; run scripts/setup-host.sh" >&2; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "make-base-image: debootstrap $SUITE from $MIRROR (about a minute)" >&2
if ! "$DEBOOTSTRAP" --variant=minbase --include="$PACKAGES" "$SUITE" "$dir/root" "$MIRROR" \
  >"$dir/debootstrap.log" 2>&1; then
  tail -20 "$dir/debootstrap.log" >&2
  echo "make-base-image: debootstrap failed (is $MIRROR reachable?)" >&2
  exit 1
fi
# what the official slim images leave out too: apt's downloads and lists, docs, locales
rm -rf "$dir"/root/var/cache/apt/archives/*.deb "$dir"/root/var/lib/apt/lists/* \
  "$dir"/root/usr/share/doc/* "$dir"/root/usr/share/man/* "$dir"/root/usr/share/locale/* \
  "$dir"/root/var/log/*.log "$dir"/root/var/cache/debconf/*-old
tar -C "$dir/root" --numeric-owner -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "debootstrap --variant=minbase --include=$PACKAGES $SUITE" \
  - "$TAG" >/dev/null
echo "make-base-image: $TAG ready ($(docker image inspect --format '{{.Size}}' "$TAG") bytes)" >&2
