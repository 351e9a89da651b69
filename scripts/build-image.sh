#!/usr/bin/env bash
# Build logship's container image.
#   scripts/build-image.sh [--tag TAG] [--local-base] [docker build options...]
# 1. Downloads the wheels of logship's dependencies (and of its build backend and mypyc) for CPython 3.11
#    on this machine's architecture into build/wheels (kept: done again only when pyproject.toml's
#    dependencies change). The image build itself never goes to the network (pip --no-index).
# 2. With --local-base, makes two Debian bases with Python by debootstrap (scripts/make-base-image.sh),
#    the builder's with a C compiler, and builds on them, for machines that reach Debian's
#    mirror but no container registry. Otherwise the Dockerfile's pinned python:3.11 images are.
# 3. docker build (BuildKit when the docker client has buildx, else the legacy builder): TAG,
#    and TAG-builder for the builder stage (the next build's cache).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
TAG="logship:$VERSION"
LOCAL_BASE="logship-local/python:3.11-bookworm"
LOCAL_BUILDER="logship-local/python:3.11-bookworm-build"
base_args=()
build_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG="$2"; shift 2 ;;
    --local-base)
      base_args=(--build-arg "PYTHON_IMAGE=$LOCAL_BASE" --build-arg "BUILDER_IMAGE=$LOCAL_BUILDER")
      shift ;;
    *) build_args+=("$1"); shift ;;
  esac
done
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3

# -- 1. wheels ------------------------------------------------------------------------------
ARCH=$(uname -m)
requirements=$("$PY" - <<'EOF'
import tomllib
with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)
mypyc = project["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]
print("\n".join(
    project["project"]["dependencies"] + project["build-system"]["requires"] + mypyc["dependencies"]
))
EOF
)
key=$(printf '%s\n%s\n' "$ARCH" "$requirements" | sha256sum | cut -c1-16)
if [ "$(cat build/wheels/.key 2>/dev/null)" != "$key" ] || [ ! -f build/wheels/requirements.txt ]; then
  echo "build-image: downloading wheels into build/wheels" >&2
  rm -rf build/wheels
  mkdir -p build/wheels
  platforms=()  # bookworm has glibc 2.36: every manylinux tag up to that one
  for v in 36 35 34 33 32 31 30 29 28 27 26 25 24 23 22 21 20 19 18 17 12 5; do
    platforms+=(--platform "manylinux_2_${v}_${ARCH}")
  done
  platforms+=(--platform "manylinux2014_${ARCH}" --platform "manylinux2010_${ARCH}" \
    --platform "manylinux1_${ARCH}")
  mapfile -t reqs <<<"$requirements"
  log=$(mktemp)
  if ! "$PY" -m pip download --disable-pip-version-check --only-binary=:all: \
    --python-version 3.11 --implementation cp --abi cp311 "${platforms[@]}" \
    --dest build/wheels "${reqs[@]}" >"$log" 2>&1; then
    grep -v "is ignored: it is neither" "$log" >&2
    echo "build-image: pip download failed" >&2
    exit 1
  fi
  rm -f "$log"
  "$PY" - >build/wheels/requirements.txt <<'EOF'
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["dependencies"]))
EOF
  echo "$key" >build/wheels/.key
fi

# -- 2. base ----------------------------------------------------------------------------------
if [ ${#base_args[@]} -gt 0 ]; then
  bash scripts/make-base-image.sh "$LOCAL_BASE"
  bash scripts/make-base-image.sh --builder "$LOCAL_BUILDER"
fi

# -- 3. image ---------------------------------------------------------------------------------
if ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0  # the legacy builder: no buildx plugin with this client
fi
echo "build-image: docker build -t $TAG" >&2
# The builder stage gets a tag of its own, so that its layers stay as cache for the next build
# and what an earlier build left untagged (of either stage) can be removed: with some storage
# drivers (vfs) each layer is a whole copy of the file system.
docker build --quiet "${base_args[@]}" "${build_args[@]}" --target builder --tag "$TAG-builder" . \
  >/dev/null
docker build --quiet "${base_args[@]}" "${build_args[@]}" --tag "$TAG" . >/dev/null
for stage in "logship.image.stage=builder" "org.opencontainers.image.title=logship"; do
  docker image prune --force --filter "label=$stage" >/dev/null
done
echo "build-image: $TAG ready" >&2
