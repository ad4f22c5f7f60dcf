#!/usr/bin/env bash
# cmake --install into a temporary prefix, then what a user of the install
# does, from directories outside the source tree: only the API is
# exported, the headers compile as C++, and each example operator
# (examples/*/) builds three ways (its CMake project with
# find_package(pipeline), pkg-config, plain cc) and runs through the
# installed pipeline with the expected answer, on 1 and 2 ranks, and
# passes --check-operator.
#   test_install.sh PIPELINE BUILD_DIR [CASE ...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_args "$@"
shift 2
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp}"
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null || { echo "cmake --install failed"; exit 1; }
# Sanitized builds: a plugin linked against the instrumented library needs
# the sanitizer runtime on its link line too.
san=""
grep -q '^PL_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && san="-fsanitize=address,undefined"

# The functions the installed headers declare PL_API, but for the entry
# point PL_OPERATOR_EXPORT defines in a plugin.
api_names() {
  cat "$prefix"/include/pipeline/*.h | tr '\n' ' ' | grep -oE 'PL_API [^(;]*\(' |
    grep -oE 'pl_[a-z0-9_]+ *\($' | tr -d ' (' | grep -vx pl_operator_entry | sort -u
}

# Defined dynamic symbols of FILE, the sanitizers' own left out (and in
# the sanitizer build the binary's dlclose, which keeps Open MPI's
# plugins loaded for LeakSanitizer: tools/lsan_keep_mca.c).
exported() {
  local own='^(__(asan|ubsan|lsan|sanitizer|sancov)|_(init|fini|edata|end)$|__bss_start$|_IO_stdin_used$)'
  [ -n "$san" ] && own="$own|^dlclose\$"
  nm -D --defined-only "$1" | awk '{print $NF}' | grep -vE "$own" | sort -u
}

case_layout() {
  local f
  for f in bin/pipeline lib/libpipeline.so lib/pkgconfig/pipeline.pc \
    lib/cmake/pipeline/pipelineConfig.cmake lib/cmake/pipeline/pipelineConfigVersion.cmake \
    include/pipeline/operator.h include/pipeline/api.h share/man/man1/pipeline.1 \
    share/man/man5/pipeline-job.conf.5 share/man/man3/pipeline-operator.3; do
    [ -e "$prefix/$f" ] || fail "not installed: $f" || return 1
  done
  # The installed program finds its library without LD_LIBRARY_PATH.
  "$prefix/bin/pipeline" --version | grep -q '^pipeline [0-9]' || fail "installed pipeline does not run"
}

case_only_the_api_exported() {
  api_names >api.txt
  [ "$(wc -l <api.txt)" -gt 50 ] || fail "too few API names found: $(wc -l <api.txt)" || return 1
  exported "$prefix/lib/libpipeline.so" >lib.txt
  exported "$prefix/bin/pipeline" >bin.txt
  local extra missing
  extra=$(comm -13 api.txt lib.txt)
  missing=$(comm -23 api.txt lib.txt)
  [ -z "$extra" ] || fail "libpipeline.so exports what is not API: $extra" || return 1
  [ -z "$missing" ] || fail "API declared but not exported: $missing" || return 1
  [ ! -s bin.txt ] || fail "the binary exports: $(cat bin.txt)"
}

case_headers_compile_as_cxx() {
  printf '#include <pipeline/pipeline.h>\nint main() { return pl_error_exit_status(0); }\n' >t.cc
  g++ -std=c++11 -Wall -Wextra -Werror $san -I"$prefix/include" t.cc -o t \
    -L"$prefix/lib" -Wl,-rpath,"$prefix/lib" -lpipeline || fail "C++ build failed" || return 1
  ./t || fail "C++ program failed"
}

# job NAME PLUGIN: the example's job.conf, here, with the plugin, data
# and output paths of this run.
job() {
  sed "s#^plugin = .*#plugin = $2#; s#^path = ../../jobs/data/#path = $top/jobs/data/#;
       s#^path = \${PIPELINE_OUT:-/tmp}/#path = $PWD/#" "$top/examples/$1/$1.conf" >"$1.conf"
}

# run_example NAME PLUGIN: one process and 2 ranks, then --check-operator.
run_example() {
  local name=$1 plugin=$2
  job "$name" "$plugin"
  "$prefix/bin/pipeline" -q "$name.conf" || fail "$name: exit $?" || return 1
  diff "$top/examples/$name/$name.expected.csv" "$name.csv" || fail "$name: output differs" || return 1
  rm -f "$name.csv"
  timeout 300 mpirun -n 2 "$prefix/bin/pipeline" -q "$name.conf" || fail "$name, 2 ranks: exit $?" || return 1
  diff <(sort "$top/examples/$name/$name.expected.csv") <(sort "$name.csv") ||
    fail "$name, 2 ranks: output differs" || return 1
  "$prefix/bin/pipeline" --check-operator "$name.conf" >check.txt ||
    fail "$name: --check-operator: $(cat check.txt)" || return 1
  grep -q 'every case agreed' check.txt || fail "$name: --check-operator: $(cat check.txt)"
}

# Copies the example out of the source tree first: nothing may reach back.
copy_example() { cp -r "$top/examples/$1" src && rm -rf src/build; }

for ex in clamp histogram; do
  eval "case_${ex}_cmake_package() {
    copy_example $ex
    cmake -S src -B build -DCMAKE_PREFIX_PATH=\"\$prefix\" -DCMAKE_C_FLAGS=\"\$san\" \
      -DCMAKE_MODULE_LINKER_FLAGS=\"\$san\" >cmake.log 2>&1 &&
      cmake --build build >>cmake.log 2>&1 || fail \"cmake: \$(tail -20 cmake.log)\" || return 1
    run_example $ex \"\$PWD/build/lib$ex.so\"
  }"
  eval "case_${ex}_pkg_config() {
    copy_example $ex
    PKG_CONFIG_PATH=\"\$prefix/lib/pkgconfig\" pkg-config --exists pipeline || fail 'pkg-config finds no pipeline' || return 1
    cc -shared -fPIC -O2 -Wall -Wextra -Werror \$san \$(PKG_CONFIG_PATH=\"\$prefix/lib/pkgconfig\" pkg-config --cflags pipeline) \
      src/$ex.c -o lib$ex.so \$(PKG_CONFIG_PATH=\"\$prefix/lib/pkgconfig\" pkg-config --libs pipeline) -lm \
      -Wl,--no-undefined || fail 'pkg-config build failed' || return 1
    run_example $ex \"\$PWD/lib$ex.so\"
  }"
  eval "case_${ex}_plain_cc() {
    copy_example $ex
    cc -shared -fPIC -O2 -Wall -Wextra -Werror \$san -I\"\$prefix/include\" src/$ex.c -o lib$ex.so \
      -L\"\$prefix/lib\" -lpipeline -lm -Wl,--no-undefined || fail 'cc build failed' || return 1
    run_example $ex \"\$PWD/lib$ex.so\"
  }"
done

run_cases "$@"
