# STX_SANITIZE: build every stx target (libstx, stx._C, stx-train, the GoogleTest suite, the
# examples) with compiler sanitizers, e.g. -DSTX_SANITIZE=address,undefined. Findings are fatal
# (-fno-sanitize-recover=all), so a sanitizer run either is clean or fails. Included before the
# first target is defined. Python loads an ASan-built stx._C only with the runtime preloaded:
# LD_PRELOAD=$(c++ -print-file-name=libasan.so):$(c++ -print-file-name=libstdc++.so) ASAN_OPTIONS=detect_leaks=0
# (see .ci/sanitize).
set(STX_SANITIZE "" CACHE STRING "Sanitizers to build with, comma-separated: address, undefined, leak (empty: none)")
if(STX_SANITIZE)
  string(REPLACE "," ";" _stx_sanitizers "${STX_SANITIZE}")
  foreach(_stx_s IN LISTS _stx_sanitizers)
    if(NOT _stx_s MATCHES "^(address|undefined|leak)$")
      message(FATAL_ERROR "STX_SANITIZE: unknown sanitizer '${_stx_s}' (use address, undefined, leak)")
    endif()
  endforeach()
  if(STX_CUDA_ENABLED)
    message(FATAL_ERROR "STX_SANITIZE needs a CPU-only build (-DSTX_WITH_CUDA=OFF)")
  endif()
  string(REPLACE ";" "," _stx_list "${_stx_sanitizers}")
  # vptr checks need the dynamic types of torch's classes, whose type info is not exported to us.
  set(_stx_flags -fsanitize=${_stx_list} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  if("undefined" IN_LIST _stx_sanitizers)
    list(APPEND _stx_flags -fno-sanitize=vptr)
  endif()
  # GCC's flow analysis under the sanitizers' instrumentation reports -Wmaybe-uninitialized inside
  # torch's headers (c10::intrusive_ptr in an optional<Tensor>) that the normal build does not: a
  # known false positive of instrumented builds, so that one warning is not an error here.
  list(APPEND _stx_flags -Wno-maybe-uninitialized)
  add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:${_stx_flags}>")
  add_link_options(-fsanitize=${_stx_list})
  message(STATUS "stx: sanitizers ${_stx_list}")
endif()
