# ctest helper: prove that WISP_WITH_JSON_POLICY=OFF links no JSON code.
#
# Configures and builds only the static library in a second build tree with the
# option off, then inspects libwisp.a: no object from lib/policy/json*.c, no JSON
# tokenizer, loader or certificate-decoder symbol; and, so that the check cannot pass
# vacuously, the model API (lookups, templates) is there.
#   cmake -DSOURCE=... -DBINARY=... -DGENERATOR=... -DCC=... -DNM=... -DAR=...
#         [-DMBEDTLS_SOURCE=...] [-DMBEDTLS_USER_CONFIG=...] [-DC_FLAGS=...] -P json-off.cmake
set(args -S ${SOURCE} -B ${BINARY} -G ${GENERATOR} -DCMAKE_C_COMPILER=${CC}
         -DCMAKE_BUILD_TYPE=Release -DWISP_WITH_JSON_POLICY=OFF
         -DWISP_BUILD_TESTS=OFF -DWISP_BUILD_TOOLS=OFF)
# The same mbedTLS, configured the same way, and the same compiler flags as the
# build that runs this test.
if(MBEDTLS_SOURCE)
    list(APPEND args -DWISP_MBEDTLS_SOURCE_DIR=${MBEDTLS_SOURCE})
endif()
if(MBEDTLS_USER_CONFIG)
    list(APPEND args -DMBEDTLS_USER_CONFIG_FILE=${MBEDTLS_USER_CONFIG})
endif()
if(C_FLAGS)
    list(APPEND args "-DCMAKE_C_FLAGS=${C_FLAGS}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "configure with WISP_WITH_JSON_POLICY=OFF failed:\n${out}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY} --target wisp_static -j 4
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "build with WISP_WITH_JSON_POLICY=OFF failed:\n${out}")
endif()
file(GLOB_RECURSE lib ${BINARY}/libwisp.a)
if(NOT lib)
    message(FATAL_ERROR "no libwisp.a under ${BINARY}")
endif()
list(GET lib 0 lib)

execute_process(COMMAND ${AR} t ${lib} OUTPUT_VARIABLE members RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR members MATCHES "(^|\n)json[^\n]*\\.o")
    message(FATAL_ERROR "${lib} holds JSON objects:\n${members}")
endif()
if(NOT members MATCHES "policy\\.c\\.o")
    message(FATAL_ERROR "${lib} lacks lib/policy/policy.c:\n${members}")
endif()

execute_process(COMMAND ${NM} -g ${lib} OUTPUT_VARIABLE syms RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} ${lib} failed")
endif()
string(REGEX MATCHALL "[^\n]*(wisp__json_|wisp_policy_load|wisp_policy_loader_|wisp__cert_decode)[^\n]*"
       bad "${syms}")
if(bad)
    message(FATAL_ERROR "JSON symbols in ${lib} built with WISP_WITH_JSON_POLICY=OFF:\n${bad}")
endif()
foreach(sym wisp_policy_stream_find wisp_policy_template_expand wisp_policy_free)
    if(NOT syms MATCHES " T ${sym}\n")
        message(FATAL_ERROR "${sym} missing from ${lib}: the check would prove nothing")
    endif()
endforeach()
message(STATUS "${lib}: no JSON code with WISP_WITH_JSON_POLICY=OFF")
