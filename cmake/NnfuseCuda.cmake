# The CUDA backend: NNFUSE_CUDA=AUTO (build it when a toolkit is found), ON
# (require it) or OFF. The CUDA runtime is linked statically so that
# libnnfuse.so still loads, and runs on the CPU, where no CUDA driver exists.
include(CheckLanguage)

set(NNFUSE_CUDA AUTO CACHE STRING "Build the CUDA backend: AUTO, ON or OFF")
set_property(CACHE NNFUSE_CUDA PROPERTY STRINGS AUTO ON OFF)

set(NNFUSE_CUDA_ENABLED OFF)
if(NOT NNFUSE_CUDA STREQUAL "OFF")
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(NNFUSE_CUDA_ENABLED ON)
  elseif(NNFUSE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "NNFUSE_CUDA=ON but no CUDA compiler was found (set CMAKE_CUDA_COMPILER or put nvcc on PATH)")
  endif()
endif()

function(nnfuse_add_cuda_sources target)
  file(GLOB cuda_sources CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/native/src/cuda/*.cu")
  if(NOT NNFUSE_CUDA_ENABLED)
    message(STATUS "nnfuse: CUDA backend off (NNFUSE_CUDA=${NNFUSE_CUDA}, compiler: ${CMAKE_CUDA_COMPILER})")
  elseif(NOT cuda_sources)
    message(STATUS "nnfuse: CUDA compiler found at ${CMAKE_CUDA_COMPILER}; no CUDA kernels in native/src/cuda yet")
  else()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    message(STATUS "nnfuse: CUDA backend on (nvcc ${CMAKE_CUDA_COMPILER_VERSION})")
    target_sources(${target} PRIVATE ${cuda_sources})
    target_compile_definitions(${target} PRIVATE NF_WITH_CUDA=1)
    set_target_properties(${target} PROPERTIES
      CUDA_ARCHITECTURES "80-real;86-real;89-real;90"
      CUDA_RUNTIME_LIBRARY Static)
  endif()
endfunction()
