# Installs the stx build tree into a scratch prefix, builds tests/cpp/consumer against it with
# find_package(stx), and runs the result. Invoked by CTest with -P.
foreach(var STX_BUILD_DIR STX_CONSUMER_SOURCE STX_WORK_DIR TORCH_DIR CMAKE_GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer_test.cmake: ${var} is not set")
  endif()
endforeach()
set(prefix "${STX_WORK_DIR}/prefix")
file(REMOVE_RECURSE "${STX_WORK_DIR}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install "${STX_BUILD_DIR}" --prefix "${prefix}")
run(${CMAKE_COMMAND} -S "${STX_CONSUMER_SOURCE}" -B "${STX_WORK_DIR}/build" -G "${CMAKE_GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${prefix}" "-DTorch_DIR=${TORCH_DIR}" -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build "${STX_WORK_DIR}/build")
run("${STX_WORK_DIR}/build/stx_consumer")
run("${STX_WORK_DIR}/build/stx_readme_example")
