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
set(WISP_SOURCES)
foreach(m ${WISP_MODULES})
    file(GLOB _src CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/../lib/${m}/*.c)
    list(APPEND WISP_SOURCES ${_src})
endforeach()
if(NOT WISP_WITH_JSON_POLICY)
    list(FILTER WISP_SOURCES EXCLUDE REGEX "/lib/policy/json[^/]*\\.c$")
endif()
if(NOT WISP_WITH_SERVER)
    list(FILTER WISP_SOURCES EXCLUDE REGEX "/lib/[a-z0-9]+/server[^/]*\\.c$")
endif()
if(NOT WISP_WITH_CLIENT)
    list(FILTER WISP_SOURCES EXCLUDE REGEX "/lib/[a-z0-9]+/client[^/]*\\.c$")
endif()
