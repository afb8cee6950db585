# Warnings for wisp's own code (never for Mbed TLS built from source: these are
# target properties through ${WISP_WARNINGS}, not global options).
#
# WISP_WERROR makes them errors. It is ON in the project's own builds (the Makefile
# passes it, and so CI) and OFF by default, so a consumer's add_subdirectory(), a
# packager or a firmware toolchain with a newer or different compiler is not broken
# by a new warning.
option(WISP_WERROR "Treat warnings in wisp's own code as errors" OFF)

include(CheckCCompilerFlag)
set(WISP_WARNINGS)
foreach(flag -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
             -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wundef
             -Wno-unused-parameter)
    # Only flags the compiler in use accepts (cached per flag).
    string(MAKE_C_IDENTIFIER "WISP_HAS${flag}" var)
    check_c_compiler_flag(${flag} ${var})
    if(${var})
        list(APPEND WISP_WARNINGS ${flag})
    endif()
endforeach()
if(WISP_WERROR)
    list(APPEND WISP_WARNINGS -Werror)
endif()
