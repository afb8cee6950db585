# ctest helper: a client-only wisp (WISP_WITH_SERVER=OFF) links no server-side TLS
# code, and (with an mbedTLS source tree) builds, links and handshakes against a
# trimmed mbedTLS: client only, P-256 only, no cache or ticket module
# (cmake/mbedtls-user-config-trimmed.h).
#
#   cmake -DSOURCE=... -DBINARY=... -DGENERATOR=... -DCC=... -DNM=...
#         [-DMBEDTLS_SOURCE=... -DUSER_CONFIG=...] -P mbedtls-client-only-check.cmake
#
# Without MBEDTLS_SOURCE: the found mbedTLS, libwisp.a only, symbol check only.
# With it: also builds interop_tls_hardening there and runs its client control case
# (a default `openssl s_server`: TLS 1.3 on P-256, the only group such a build has).
set(args -S ${SOURCE} -B ${BINARY} -G ${GENERATOR} -DCMAKE_C_COMPILER=${CC}
         -DCMAKE_BUILD_TYPE=Release -DWISP_WITH_SERVER=OFF -DWISP_BUILD_TOOLS=OFF)
set(targets wisp_static)
if(MBEDTLS_SOURCE)
    list(APPEND args -DWISP_MBEDTLS_SOURCE_DIR=${MBEDTLS_SOURCE}
                     -DMBEDTLS_USER_CONFIG_FILE=${USER_CONFIG} -DWISP_BUILD_TESTS=ON)
    list(APPEND targets interop_tls_hardening)
else()
    list(APPEND args -DWISP_BUILD_TESTS=OFF)
endif()
execute_process(COMMAND ${CMAKE_COMMAND} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "client-only configure failed:\n${out}")
endif()
foreach(t ${targets})
    execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY} --target ${t} -j 2
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "client-only build of ${t} failed:\n${out}")
    endif()
endforeach()

file(GLOB_RECURSE lib ${BINARY}/lib/libwisp.a)
list(GET lib 0 lib)
execute_process(COMMAND ${NM} -u ${lib} OUTPUT_VARIABLE undef RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} -u ${lib} failed")
endif()
string(REGEX MATCHALL "mbedtls_ssl_(cache|ticket)_[a-z_]+" bad "${undef}")
if(bad)
    list(REMOVE_DUPLICATES bad)
    message(FATAL_ERROR "client-only ${lib} references server resumption code: ${bad}")
endif()
if(NOT undef MATCHES "mbedtls_ssl_handshake_step")
    message(FATAL_ERROR "${lib} references no mbedTLS: the check would prove nothing")
endif()
message(STATUS "${lib}: no session cache or ticket code with WISP_WITH_SERVER=OFF")

if(MBEDTLS_SOURCE)
    execute_process(COMMAND ${BINARY}/tests/interop/interop_tls_hardening
                            test_control_default_server
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0 OR NOT out MATCHES "TLSv1\\.3")
        message(FATAL_ERROR "P-256-only client handshake against openssl failed:\n${out}")
    endif()
    message(STATUS "P-256-only, client-only mbedTLS: ${out}")
endif()
