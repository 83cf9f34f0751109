# Compiler settings shared by every nnfuse target.
#
# Symbols are hidden by default; nnfuse.h exports the ABI with NF_API.
# No -ffast-math: kernels rely on IEEE semantics (NaN propagation, a fixed
# summation order for determinism), and FP contraction is left off so that the
# scalar code computes exactly what it says on every compiler.
function(nnfuse_set_compiler_options target)
  set_target_properties(${target} PROPERTIES
    C_STANDARD 11
    C_STANDARD_REQUIRED ON
    C_EXTENSIONS OFF
    C_VISIBILITY_PRESET hidden
    POSITION_INDEPENDENT_CODE ON)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Wshadow -Wstrict-prototypes -Werror=implicit-function-declaration -ffp-contract=off>)
    target_link_options(${target} PRIVATE -Wl,--no-undefined -Wl,-z,defs)
  endif()
endfunction()
