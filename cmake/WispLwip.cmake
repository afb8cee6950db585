# The lwIP ports (lib/plat/lwip), built as their own targets: never part of libwisp.
#
# lwIP comes from Debian's source package (scripts/get-debian-source.sh, unpacked once
# into the build tree) or from WISP_LWIP_SOURCE_DIR. Host targets, one lwIP build per
# flavour with the project's lwipopts.h:
#   wisp_lwip_sockets_host  sockets.c + lwIP core/api (NO_SYS=0) + the source's unix
#                           sys_arch (pthreads)
#   wisp_lwip_raw_host      raw.c + lwIP core (NO_SYS=1)
# Both are built with the host tests' extra options (tests/lwip/lwipopts-test.h:
# stats on, short TIME_WAIT, a local host list for DNS). The Cortex-M4 builds are a
# separate CMake project (tests/lwip/m4), configured and built by a ctest test.
# Host targets only: a cross build (the firmware) builds lwIP in its own project.
if(CMAKE_CROSSCOMPILING)
    return()
endif()
set(WISP_LWIP_SOURCE_DIR "" CACHE PATH "lwIP source tree (default: Debian's, fetched)")
set(WISP_LWIP_DIR "")
if(WISP_LWIP_SOURCE_DIR)
    set(WISP_LWIP_DIR ${WISP_LWIP_SOURCE_DIR})
else()
    execute_process(
        COMMAND ${PROJECT_SOURCE_DIR}/scripts/get-debian-source.sh lwip own
                ${CMAKE_BINARY_DIR}/_lwip
        OUTPUT_VARIABLE _out ERROR_VARIABLE _err RESULT_VARIABLE _rc)
    if(_rc EQUAL 0)
        string(STRIP "${_out}" _out)
        string(REGEX REPLACE ".*\n" "" WISP_LWIP_DIR "${_out}")
    else()
        message(WARNING "lwIP source not available (${_err}): lwIP ports not built")
    endif()
endif()
if(NOT WISP_LWIP_DIR OR NOT EXISTS ${WISP_LWIP_DIR}/src/core/tcp.c)
    set(WISP_LWIP_DIR "")
    return()
endif()
message(STATUS "lwIP source: ${WISP_LWIP_DIR}")
# For tests/lwip (another directory scope).
set(WISP_LWIP_RESOLVED_DIR ${WISP_LWIP_DIR} CACHE INTERNAL "lwIP source in use")

set(WISP_LWIP_PORT_DIR ${PROJECT_SOURCE_DIR}/lib/plat/lwip)
file(GLOB WISP_LWIP_CORE_SRC ${WISP_LWIP_DIR}/src/core/*.c ${WISP_LWIP_DIR}/src/core/ipv4/*.c)
file(GLOB WISP_LWIP_API_SRC ${WISP_LWIP_DIR}/src/api/*.c)

# wisp_lwip_flavour(NAME FLAVOUR SOURCES... INCLUDES...)
function(wisp_lwip_host name flavour)
    cmake_parse_arguments(L "" "" "SOURCES;INCLUDES" ${ARGN})
    add_library(${name}_lwip STATIC ${L_SOURCES})
    target_include_directories(${name}_lwip PUBLIC
        ${PROJECT_SOURCE_DIR}/tests/lwip
        ${WISP_LWIP_PORT_DIR}/opts/${flavour} ${WISP_LWIP_PORT_DIR}/opts
        ${L_INCLUDES} ${WISP_LWIP_DIR}/src/include)
    target_compile_definitions(${name}_lwip PUBLIC WISP_LWIP_HOSTED
        WISP_LWIP_OPTS_EXTRA="lwipopts-test.h" _DEFAULT_SOURCE)
    # lwIP is not our code: its own warnings are not ours to fix.
    target_compile_options(${name}_lwip PRIVATE -w)
    add_library(${name} STATIC ${WISP_LWIP_PORT_DIR}/${flavour}.c ${WISP_LWIP_PORT_DIR}/clock.c)
    target_include_directories(${name} PUBLIC ${WISP_LWIP_PORT_DIR}
        ${PROJECT_SOURCE_DIR}/include)
    target_compile_options(${name} PRIVATE ${WISP_WARNINGS})
    target_link_libraries(${name} PUBLIC ${name}_lwip)
endfunction()

wisp_lwip_host(wisp_lwip_sockets_host sockets
    SOURCES ${WISP_LWIP_CORE_SRC} ${WISP_LWIP_API_SRC} ${WISP_LWIP_DIR}/port/sys_arch.c
    INCLUDES ${WISP_LWIP_DIR}/port/include)
target_link_libraries(wisp_lwip_sockets_host_lwip PUBLIC Threads::Threads)
wisp_lwip_host(wisp_lwip_raw_host raw SOURCES ${WISP_LWIP_CORE_SRC})
# The host tests run client and server in one program: every connection takes two
# slots (one per end), two listeners and the wake one more each.
target_compile_definitions(wisp_lwip_raw_host PRIVATE WISP_LWIP_RAW_SOCKETS=16)
