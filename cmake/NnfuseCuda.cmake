# The CUDA backend.
#
# NNFUSE_CUDA=AUTO (build it when nvcc is found), ON (require it) or OFF
# decides whether libnnfuse.so carries the CUDA kernels of native/src/cuda.
# The CUDA runtime is linked statically so that the library still loads, and
# runs on the CPU, where no CUDA driver exists; devices are found at run time.
#
# NNFUSE_CUDA_HARNESS=ON (the default) also builds libnnfuse-cudaharness.so:
# the same library with the same .cu sources compiled by the host C++
# compiler against native/test/cudaharness, which runs the kernels on the CPU.
# The Java suite runs against it as a CUDA device, which is how the kernels
# are tested on machines without a GPU.
include(CheckLanguage)

set(NNFUSE_CUDA AUTO CACHE STRING "Build the CUDA backend: AUTO, ON or OFF")
set_property(CACHE NNFUSE_CUDA PROPERTY STRINGS AUTO ON OFF)
option(NNFUSE_CUDA_HARNESS "Build libnnfuse-cudaharness.so, the CUDA kernels run on the CPU" ON)

file(GLOB NNFUSE_CUDA_SOURCES CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/native/src/cuda/*.cu")

set(NNFUSE_CUDA_ENABLED OFF)
if(NOT NNFUSE_CUDA STREQUAL "OFF")
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(NNFUSE_CUDA_ENABLED ON)
  elseif(NNFUSE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "NNFUSE_CUDA=ON but no CUDA compiler was found (set CMAKE_CUDA_COMPILER or put nvcc on PATH)")
  endif()
endif()
# Languages are enabled at directory scope (CMake refuses inside a function).
if(NNFUSE_CUDA_ENABLED)
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
endif()
if(NNFUSE_CUDA_HARNESS)
  enable_language(CXX)
endif()

# Adds the CUDA kernels to target, or the entry points that report no CUDA.
function(nnfuse_add_cuda_backend target)
  if(NOT NNFUSE_CUDA_ENABLED)
    message(STATUS "nnfuse: CUDA backend off (NNFUSE_CUDA=${NNFUSE_CUDA}, compiler: ${CMAKE_CUDA_COMPILER})")
    target_sources(${target} PRIVATE "${PROJECT_SOURCE_DIR}/native/src/common/no_cuda.c")
    return()
  endif()
  message(STATUS "nnfuse: CUDA backend on (nvcc ${CMAKE_CUDA_COMPILER_VERSION})")
  target_sources(${target} PRIVATE ${NNFUSE_CUDA_SOURCES})
  target_compile_definitions(${target} PRIVATE NF_WITH_CUDA=1)
  # --fmad=false: a*b+c stays two roundings, as in the C kernels and the
  # harness, so results differ between backends only where a kernel asks for
  # fmaf() (the harness's fmaf is the same correctly rounded operation).
  # -Xptxas -v prints each kernel's registers, shared memory and spills.
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:--fmad=false -Xptxas=-v,-warn-spills,-warn-lmem-usage --expt-relaxed-constexpr>)
  set_target_properties(${target} PROPERTIES
    CUDA_STANDARD 17
    CUDA_STANDARD_REQUIRED ON
    CUDA_VISIBILITY_PRESET hidden
    CUDA_ARCHITECTURES "80-real;86-real;89-real;90"
    CUDA_RUNTIME_LIBRARY Static)
endfunction()

# libnnfuse-cudaharness.so: objects holds the C backend, shared with libnnfuse.so.
function(nnfuse_add_cuda_harness objects)
  if(NOT NNFUSE_CUDA_HARNESS)
    return()
  endif()
  set(harness_dir "${PROJECT_SOURCE_DIR}/native/test/cudaharness")
  # A source file has one language per directory, and libnnfuse.so compiles
  # the .cu files as CUDA; the harness compiles C++ files that include them.
  set(wrappers)
  foreach(cu ${NNFUSE_CUDA_SOURCES})
    get_filename_component(stem "${cu}" NAME_WE)
    set(wrapper "${CMAKE_CURRENT_BINARY_DIR}/cudaharness/${stem}.cpp")
    file(CONFIGURE OUTPUT "${wrapper}" CONTENT "#include \"${cu}\"\n")
    list(APPEND wrappers "${wrapper}")
  endforeach()
  add_library(nnfuse-cudaharness SHARED $<TARGET_OBJECTS:${objects}> ${wrappers} "${harness_dir}/harness.cpp")
  target_include_directories(nnfuse-cudaharness PRIVATE
    "${PROJECT_SOURCE_DIR}/native/include" "${PROJECT_SOURCE_DIR}/native/src/cuda" "${harness_dir}")
  target_compile_definitions(nnfuse-cudaharness PRIVATE NF_WITH_CUDA=1 NF_CUDA_HARNESS=1)
  target_link_libraries(nnfuse-cudaharness PRIVATE OpenMP::OpenMP_C m)
  set_target_properties(nnfuse-cudaharness PROPERTIES
    CXX_STANDARD 17
    CXX_STANDARD_REQUIRED ON
    CXX_EXTENSIONS OFF
    CXX_VISIBILITY_PRESET hidden
    POSITION_INDEPENDENT_CODE ON)
  target_compile_options(nnfuse-cudaharness PRIVATE -Wall -Wextra -ffp-contract=off)
  target_link_options(nnfuse-cudaharness PRIVATE -Wl,--no-undefined -Wl,-z,defs)
  message(STATUS "nnfuse: CUDA harness library on (kernels compiled by ${CMAKE_CXX_COMPILER})")
endfunction()

# The harness's own tests (ctest; Maven's test phase runs them).
function(nnfuse_add_cuda_harness_tests)
  if(NOT NNFUSE_CUDA_HARNESS)
    return()
  endif()
  set(harness_dir "${PROJECT_SOURCE_DIR}/native/test/cudaharness")
  add_executable(cudaharness-test "${harness_dir}/harness_test.cpp" "${harness_dir}/harness.cpp")
  target_include_directories(cudaharness-test PRIVATE "${harness_dir}")
  set_target_properties(cudaharness-test PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
  target_compile_options(cudaharness-test PRIVATE -Wall -Wextra)
  add_test(NAME cudaharness COMMAND cudaharness-test)
endfunction()
