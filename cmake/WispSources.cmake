# Library sources, by module. Each module's .c files are picked up from its folder so
# adding a file needs no edit here. JSON policy code lives in lib/policy/json*.c and
# is left out entirely with WISP_WITH_JSON_POLICY=OFF.
#
# The POSIX port is the default platform on hosted systems; bare-metal builds
# (CMAKE_SYSTEM_NAME Generic: the firmware toolchains) leave it out, and the
# application passes its own wisp_plat_ops_t.
if(CMAKE_SYSTEM_NAME STREQUAL "Generic")
    set(_posix OFF)
else()
    set(_posix ON)
endif()
option(WISP_PLAT_POSIX "Build the POSIX port and make it the default platform" ${_posix})
set(WISP_MODULES core tls policy vhost http1 stream)
if(WISP_PLAT_POSIX)
    list(APPEND WISP_MODULES plat/posix)
endif()
get_filename_component(_lib "${CMAKE_CURRENT_LIST_DIR}/../lib" ABSOLUTE)
set(WISP_SOURCES)
foreach(m ${WISP_MODULES})
    file(GLOB _src CONFIGURE_DEPENDS ${_lib}/${m}/*.c)
    list(APPEND WISP_SOURCES ${_src})
endforeach()
# Per-feature sources, named explicitly: a file that belongs to one feature is listed
# here, and a build without the feature leaves it out. Everything else in a module
# is common to every build. The shared library links with --no-undefined and
# tests/build/option-matrix.sh builds every WISP_WITH_* combination, so a feature
# file missing from its list shows up as an undefined symbol, not a silent link.
set(WISP_CLIENT_SOURCES
    ${_lib}/http1/client-conn.c ${_lib}/http1/client-parse.c ${_lib}/http1/client-write.c
    ${_lib}/stream/client.c)
set(WISP_SERVER_SOURCES ${_lib}/http1/server-conn.c ${_lib}/http1/server-parse.c
    ${_lib}/http1/server-write.c ${_lib}/stream/server.c)
file(GLOB WISP_JSON_SOURCES CONFIGURE_DEPENDS ${_lib}/policy/json*.c)
# Saved sessions (deep sleep, reboots): the blob format and the mbedTLS save/load.
set(WISP_SESSION_STORE_SOURCES ${_lib}/vhost/sessions.c ${_lib}/tls/tls-session.c)
foreach(feature CLIENT SERVER JSON SESSION_STORE)
    set(_opt WISP_WITH_${feature})
    if(feature STREQUAL "JSON")
        set(_opt WISP_WITH_JSON_POLICY)
    endif()
    if(NOT ${_opt} AND WISP_${feature}_SOURCES)
        list(REMOVE_ITEM WISP_SOURCES ${WISP_${feature}_SOURCES})
    endif()
endforeach()
