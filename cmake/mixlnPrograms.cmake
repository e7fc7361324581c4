# mixln_add_trainer(NAME SOURCE [DEFINITIONS ...]) — one trainer program, built into bin/.
function(mixln_add_trainer name source)
  cmake_parse_arguments(ARG "" "" "DEFINITIONS" ${ARGN})
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE mixln::mixln mixln_programs)
  if(ARG_DEFINITIONS)
    target_compile_definitions(${name} PRIVATE ${ARG_DEFINITIONS})
  endif()
endfunction()

# mixln_add_cuda_trainer(NAME SOURCE [DEFINITIONS ...]) — a trainer on the CUDA backend: host
# code by the C++ compiler, kernels from mixln::cuda.
function(mixln_add_cuda_trainer name source)
  cmake_parse_arguments(ARG "" "" "DEFINITIONS" ${ARGN})
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE mixln::mixln mixln::cuda mixln_programs)
  if(ARG_DEFINITIONS)
    target_compile_definitions(${name} PRIVATE ${ARG_DEFINITIONS})
  endif()
endfunction()
