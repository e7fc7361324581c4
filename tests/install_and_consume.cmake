# Installs the build tree's package into a temporary prefix, builds tests/consumer against it
# with find_package(mixln) — a norm kind, a block and a placement of the consumer's own — runs
# its trainer on golden data and checks its gradients against finite differences.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
run(${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${prefix})
if(NOT EXISTS ${prefix}/include/mixln/mixln.hpp)
  message(FATAL_ERROR "headers were not installed")
endif()
# CONSUMER_FLAGS (the build's MIXLN_TRAINER_FLAGS, e.g. CI's -O1): extra options for the
# consumer's programs, after Release's, as for the example trainers
set(consumer_flags "")
if(CONSUMER_FLAGS)
  set(consumer_flags "-DCMAKE_CXX_FLAGS_RELEASE=-O3 -DNDEBUG ${CONSUMER_FLAGS}")
endif()
run(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_BUILD_TYPE=Release ${consumer_flags})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/my_trainer info)
if(NOT last_output MATCHES "PreScale x2, SandwichLN x1, PostLN x2, LNS x1" OR
   NOT last_output MATCHES "mlp_first +add \\| ScaleNorm -> h")
  message(FATAL_ERROR "unexpected info output:\n${last_output}")
endif()
run(${WORK_DIR}/build/my_trainer grads --seed 1 --batch ${GOLDEN_DIR}/tiny_mixln/batch.safetensors
    --out ${WORK_DIR}/grads.safetensors)
if(NOT EXISTS ${WORK_DIR}/grads.safetensors)
  message(FATAL_ERROR "the consumer's trainer wrote no gradients")
endif()
# a model with a norm kind that does not say how modeling_mixln.py computes it (no hf_module)
# is not exported
execute_process(COMMAND ${WORK_DIR}/build/my_trainer export-hf --seed 1 --out ${WORK_DIR}/hf
  RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT err MATCHES "is a norm kind 'ScaleNorm' that declares no hf_module")
  message(FATAL_ERROR "export-hf of a model with a user's norm kind should be refused: ${err}")
endif()
run(${WORK_DIR}/build/my_check)
message("${last_output}")
message("installed package builds and runs a consumer project")
