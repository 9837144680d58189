# Finds LibTorch from the Python torch wheel (torch.utils.cmake_prefix_path), checks its
# version, and decides whether the CUDA kernels are built (STX_CUDA_ENABLED).

if(NOT Torch_DIR)
  if(NOT Python_EXECUTABLE)
    if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/.venv/bin/python")
      set(Python_EXECUTABLE "${CMAKE_CURRENT_SOURCE_DIR}/.venv/bin/python")
    endif()
  endif()
  find_package(Python 3.9 REQUIRED COMPONENTS Interpreter)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c "import torch; print(torch.utils.cmake_prefix_path, end='')"
    OUTPUT_VARIABLE _stx_torch_prefix
    RESULT_VARIABLE _stx_torch_rc
    ERROR_VARIABLE _stx_torch_err)
  if(NOT _stx_torch_rc EQUAL 0)
    message(FATAL_ERROR "stx: cannot import torch with ${Python_EXECUTABLE}:\n${_stx_torch_err}\n"
                        "Run scripts/setup.sh (or `make test`) to create the project venv, or pass -DTorch_DIR=...")
  endif()
  list(APPEND CMAKE_PREFIX_PATH "${_stx_torch_prefix}")
endif()

# Decide on CUDA before find_package(Torch): torch's config needs the CUDA language enabled.
set(STX_CUDA_ENABLED OFF)
if(NOT STX_WITH_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # Torch's config passes the -gencode flags (from TORCH_CUDA_ARCH_LIST) and ignores
    # CMAKE_CUDA_ARCHITECTURES, so leave the latter off.
    set(CMAKE_CUDA_ARCHITECTURES OFF)
    enable_language(CUDA)
    set(STX_CUDA_ENABLED ON)
  elseif(STX_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "stx: STX_WITH_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()
# GPU architectures for the CUDA kernels: Hopper (H100/H200) by default. Set explicitly so
# torch's config never probes for a GPU that CI does not have.
set(STX_CUDA_ARCH_LIST "9.0" CACHE STRING "TORCH_CUDA_ARCH_LIST for the CUDA kernels, e.g. \"8.0;9.0\"")
if(STX_CUDA_ENABLED AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(ENV{TORCH_CUDA_ARCH_LIST} "${STX_CUDA_ARCH_LIST}")
endif()

find_package(Torch REQUIRED)

if(NOT Torch_VERSION VERSION_EQUAL STX_REQUIRED_TORCH_VERSION)
  message(FATAL_ERROR "stx: found torch ${Torch_VERSION} at ${Torch_DIR}, but stx is pinned to "
                      "torch==${STX_REQUIRED_TORCH_VERSION}. Re-run scripts/setup.sh, or configure with "
                      "-DSTX_REQUIRED_TORCH_VERSION=${Torch_VERSION} to build against it knowingly.")
endif()

if(STX_CUDA_ENABLED AND NOT TARGET torch_cuda)
  if(STX_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "stx: STX_WITH_CUDA=ON but the torch found has no CUDA support")
  endif()
  message(STATUS "stx: torch has no CUDA support; building CPU kernels only")
  set(STX_CUDA_ENABLED OFF)
endif()
message(STATUS "stx: torch ${Torch_VERSION}, CUDA kernels: ${STX_CUDA_ENABLED}")
