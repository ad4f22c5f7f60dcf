#!/usr/bin/env bash
# Installs the Debian packages pipeline needs (only those missing) and
# builds it. Idempotent: a second run does no installs and an incremental
# build.
#   scripts/setup.sh            Release build in build/
#   scripts/setup.sh --sanitize ASan + UBSan build in build-sanitize/
#   scripts/setup.sh --prefix DIR  Release build, then cmake --install into
#                       DIR (bin/, lib/ with libpipeline.so, pkgconfig and
#                       cmake/pipeline, include/pipeline/, share/man)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS="libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools libzstd-dev
libhwloc-dev libcunit1-dev libpcre2-dev cmake pkg-config gcc g++ make zstd python3 python3-h5py python3-pandas python3-tables valgrind time"

missing=()
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

build=build
args=(-DCMAKE_BUILD_TYPE=Release)
prefix=""
case "${1:-}" in
  --sanitize)
    build=build-sanitize
    args=(-DCMAKE_BUILD_TYPE=Debug -DPL_SANITIZE=ON) ;;
  --prefix)
    prefix="${2:?setup: --prefix needs a directory}" ;;
esac
cmake -S . -B "$build" "${args[@]}" >/dev/null
log="$build/build.log"
if ! cmake --build "$build" -j"$(nproc)" >"$log" 2>&1; then
  cat "$log"
  echo "setup: build failed" >&2
  exit 1
fi
# The build must be warning-free.
if grep -q "warning:" "$log"; then
  grep -B2 -A6 "warning:" "$log"
  echo "setup: the build has warnings" >&2
  exit 1
fi
echo "setup: built $build/pipeline"
if [ -n "$prefix" ]; then
  cmake --install "$build" --prefix "$prefix" >/dev/null
  echo "setup: installed into $prefix (pkg-config: PKG_CONFIG_PATH=$prefix/lib/pkgconfig;" \
    "CMake: -DCMAKE_PREFIX_PATH=$prefix)"
fi
