# kc_add_test(NAME name SOURCES a.c ... [LIBS lib ...] [TIMEOUT seconds] [LABELS l ...])
# Registers one test program with ctest, with a timeout (default 60 s) so that
# a hang fails the run instead of stalling it. Tests run with the build tree's
# programs on PATH and KC_BIN_DIR pointing at them.
function(kc_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "KC_BIN_DIR=${PROJECT_BINARY_DIR}/bin;KC_SOURCE_DIR=${PROJECT_SOURCE_DIR};ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  if(T_LABELS)
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()
