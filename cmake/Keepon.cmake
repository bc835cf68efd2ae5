# Helpers every component folder uses, so that source lists live next to the code.
#
#   kp_add_module(NAME SOURCES a.c b.c DEPS other_mod PkgConfig::X)
#       -> static library keepon_NAME, include root src/
#       (and records its DEPS for kp_write_module_deps)
#   kp_add_test(NAME SOURCES t.c LIBS keepon_x [LABELS lab] [TIMEOUT s] [ARGS ...])
#       -> executable test_NAME linked with the harness, registered with CTest
#   kp_add_fuzzer(NAME SOURCE fuzz/fuzz_x.c LIBS keepon_x)
#       -> replay_NAME (always; replays fuzz/corpus/NAME as a CTest) and,
#          with KP_FUZZ=ON under clang, fuzz_NAME (a libFuzzer binary)

function(kp_add_module name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(keepon_${name} STATIC ${A_SOURCES})
  target_include_directories(keepon_${name} PUBLIC ${CMAKE_SOURCE_DIR}/src)
  if(A_DEPS)
    target_link_libraries(keepon_${name} PUBLIC ${A_DEPS})
  endif()
  # recorded for module-deps.tsv (docs/architecture.md's "depends on" column is generated from it)
  string(REPLACE ";" "," _deps "${A_DEPS}")
  set_property(GLOBAL APPEND PROPERTY KP_MODULE_DEPS "${name}\t${_deps}")
endfunction()

# kp_write_module_deps(FILE): one "module<TAB>dep,dep,..." line per kp_add_module call, in the
# order the modules were added (scripts/architecture.py turns it into docs/architecture.md's column).
function(kp_write_module_deps file)
  get_property(_rows GLOBAL PROPERTY KP_MODULE_DEPS)
  string(REPLACE ";" "\n" _body "${_rows}")
  file(WRITE ${file}.tmp "${_body}\n")
  file(COPY_FILE ${file}.tmp ${file} ONLY_IF_DIFFERENT)
  file(REMOVE ${file}.tmp)
endfunction()

function(kp_add_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(test_${name} ${A_SOURCES})
  target_link_libraries(test_${name} PRIVATE kp_harness ${A_LIBS})
  add_test(NAME ${name} COMMAND test_${name} ${A_ARGS})
  # ENVIRONMENT is a list: set on its own so its ';' do not split into separate property args
  set_tests_properties(${name} PROPERTIES ENVIRONMENT
    "KP_SRC=${CMAKE_SOURCE_DIR};KP_BIN=$<TARGET_FILE:keepon>;KP_SHARED_DATA=${KP_SHARED_DATA}")
  set(props SKIP_RETURN_CODE 77)
  if(A_TIMEOUT)
    list(APPEND props TIMEOUT ${A_TIMEOUT})
  else()
    list(APPEND props TIMEOUT 120)
  endif()
  if(A_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}") # a list: set on its own too
  endif()
  set_tests_properties(${name} PROPERTIES ${props})
endfunction()

# A script test (bash), run from the source tree with the built binary in KP_BIN.
# SERIAL: nothing else runs beside it (ctest RUN_SERIAL), for tests that time the lab on a
# sub-second scale: under `ctest -j` a neighbour such as Chromium can hold both cores long
# enough that replies are read after their timeout, which the test then rightly fails.
function(kp_add_script_test name script)
  cmake_parse_arguments(A "SERIAL" "TIMEOUT" "LABELS;ARGS;LOCK" ${ARGN})
  add_test(NAME ${name} COMMAND bash ${CMAKE_SOURCE_DIR}/${script} ${A_ARGS})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT
    "KP_SRC=${CMAKE_SOURCE_DIR};KP_BIN=$<TARGET_FILE:keepon>;KP_SHARED_DATA=${KP_SHARED_DATA};KP_BUILD=${CMAKE_BINARY_DIR};KP_SANITIZE=$<BOOL:${KP_SANITIZE}>")
  set(props SKIP_RETURN_CODE 77 WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  if(A_TIMEOUT)
    list(APPEND props TIMEOUT ${A_TIMEOUT})
  else()
    list(APPEND props TIMEOUT 300)
  endif()
  if(A_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}") # a list: set on its own too
  endif()
  if(A_LOCK)
    list(APPEND props RESOURCE_LOCK "${A_LOCK}")
  endif()
  if(A_SERIAL)
    list(APPEND props RUN_SERIAL TRUE)
  endif()
  set_tests_properties(${name} PROPERTIES ${props})
endfunction()

function(kp_add_fuzzer name)
  cmake_parse_arguments(A "" "SOURCE" "LIBS" ${ARGN})
  add_executable(replay_${name} ${CMAKE_SOURCE_DIR}/fuzz/replay.c ${CMAKE_SOURCE_DIR}/${A_SOURCE})
  target_link_libraries(replay_${name} PRIVATE ${A_LIBS})
  add_test(NAME fuzz_replay_${name}
           COMMAND replay_${name} ${CMAKE_SOURCE_DIR}/fuzz/corpus/${name})
  set_tests_properties(fuzz_replay_${name} PROPERTIES LABELS fuzz TIMEOUT 300)
  if(KP_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_${name} ${CMAKE_SOURCE_DIR}/${A_SOURCE})
    target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_${name} PRIVATE ${A_LIBS})
  endif()
endfunction()
