# Warning set (after c-ares' EnableWarnings.cmake, trimmed to what gcc 12 and clang 14 share).
set(KP_WARNINGS -Wall -Wextra -Wshadow -Wvla -Wpointer-arith -Wstrict-prototypes
    -Wmissing-prototypes -Wformat=2 -Wundef -Wno-unused-parameter)
if(KP_WERROR)
  list(APPEND KP_WARNINGS -Werror)
endif()
add_compile_options(${KP_WARNINGS})
add_compile_definitions(_GNU_SOURCE)
if(KP_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(KP_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  # coverage instrumentation for every library the fuzzers link
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
