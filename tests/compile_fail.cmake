# cmake -DCXX=<compiler> -DSOURCE=<file> -DFLAGS=<flags> [-DPCH=<header>] -P compile_fail.cmake
# SOURCE must fail to compile, and the compiler's output must contain the text of its
# `// expect: <text>` line (the static_assert message users will read). PCH, when given and
# precompiled (<header>.gch, built with FLAGS by tests/CMakeLists.txt), is included first.
file(STRINGS ${SOURCE} expect_line REGEX "^// expect: ")
string(REGEX REPLACE "^// expect: " "" expect "${expect_line}")
if(NOT expect)
  message(FATAL_ERROR "${SOURCE} has no '// expect: ' line")
endif()
set(args ${FLAGS} -fsyntax-only)
if(PCH AND EXISTS ${PCH}.gch)
  list(APPEND args -Winvalid-pch -include ${PCH})
endif()
execute_process(COMMAND ${CXX} ${args} ${SOURCE} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but must not")
endif()
string(FIND "${out}${err}" "${expect}" pos)
if(pos EQUAL -1)
  message("${err}")
  message(FATAL_ERROR "the compiler's output lacks: ${expect}")
endif()
message("failed to compile as expected: ${expect}")
