# build.sh - sourced by the bench wrappers: bench_build TARGET... configures
# (every time: a tree configured before a bench existed has no such target) and
# builds the Release tree build/bench, then sets $build.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build/bench"
bench_build() {
  "$root/scripts/install-deps" # what the build needs, and jq for bench/all
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" --target "$@" >&2
}
