# Warnings are errors in stx's own code; third-party headers (torch) come in as SYSTEM.
function(stx_set_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Werror -Wno-unused-parameter>
    $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings -Xcompiler=-Wall,-Werror,-Wno-unused-parameter>)
endfunction()
