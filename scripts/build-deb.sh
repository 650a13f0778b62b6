#!/usr/bin/env bash
# Builds the tapflow Debian package (Release, in its own build dir) and prints the .deb's path.
#
#   scripts/build-deb.sh                 # build-deb/tapflow_<version>-1_<arch>.deb
#   scripts/build-deb.sh --build-dir DIR # another build directory
#   scripts/build-deb.sh --from-build DIR --out OUT
#                                        # package DIR, a tree already built
#                                        # (e.g. build/, as the tests do), into OUT
#
# Only the programs are built (no tests, no benchmarks), two jobs at a time.
# Progress goes to stderr; stdout is the path of the package alone.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$here/build-deb
from_build="" out=""
while (( $# )); do
  case $1 in
    --build-dir) build_dir=$(realpath -m "${2:?--build-dir needs a directory}"); shift 2 ;;
    --from-build) from_build=$(realpath -m "${2:?--from-build needs a directory}"); shift 2 ;;
    --out) out=$(realpath -m "${2:?--out needs a directory}"); shift 2 ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

for tool in cmake ninja cpack dpkg-buildflags dpkg-shlibdeps gzip; do
  command -v "$tool" >/dev/null || { echo "build-deb: $tool not found (scripts/setup.sh installs it)" >&2; exit 1; }
done

if [[ -n $from_build ]]; then
  # A tree configured and built already (its own flags): package it as it is.
  [[ -n $out ]] || { echo "build-deb: --from-build needs --out DIR" >&2; exit 2; }
  [[ -f $from_build/CPackConfig.cmake ]] || { echo "build-deb: $from_build is not a configured tapflow build" >&2; exit 1; }
  mkdir -p "$out"
  rm -f "$out"/tapflow_*.deb
  cpack -G DEB --config "$from_build/CPackConfig.cmake" -B "$out" >&2
  rm -rf "$out/_CPack_Packages"
  debs=("$out"/tapflow_*.deb)
  [[ -f ${debs[0]} && ${#debs[@]} == 1 ]] || { echo "build-deb: expected one package in $out, got: ${debs[*]}" >&2; exit 1; }
  printf '%s\n' "${debs[0]}"
  exit 0
fi

# Debian's compiler and linker flags (dpkg-buildflags: -O2, stack protector,
# _FORTIFY_SOURCE, relro and bind-now) in place of CMake's Release -O3, at
# which GCC 12 reports false stringop-overreads inside Boost's small_vector.
# Warnings stay on but do not stop a package build (scripts/build.sh keeps
# them fatal for development).
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cppflags=$(dpkg-buildflags --get CPPFLAGS)
cxxflags=$(dpkg-buildflags --get CXXFLAGS)
ldflags=$(dpkg-buildflags --get LDFLAGS)

{
  cmake -S "$here" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DCMAKE_CXX_FLAGS="$cppflags $cxxflags" -DCMAKE_CXX_FLAGS_RELEASE=-DNDEBUG \
    -DCMAKE_EXE_LINKER_FLAGS="$ldflags" -DTAPFLOW_WERROR=OFF \
    -DTAPFLOW_TESTS=OFF -DTAPFLOW_BENCH=OFF -DTAPFLOW_FUZZ=OFF
  ninja -C "$build_dir" -j2
  # Old packages of other versions must not be mistaken for this one.
  rm -f "$build_dir"/tapflow_*.deb
  (cd "$build_dir" && cpack -G DEB)
} >&2

debs=("$build_dir"/tapflow_*.deb)
[[ -f ${debs[0]} && ${#debs[@]} == 1 ]] || { echo "build-deb: expected one package in $build_dir, got: ${debs[*]}" >&2; exit 1; }
printf '%s\n' "${debs[0]}"
