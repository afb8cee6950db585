# Library sources, by module. Each module's .c files are picked up from its folder so
# adding a file needs no edit here. JSON policy code lives in lib/policy/json*.c and
# is left out entirely with WISP_WITH_JSON_POLICY=OFF.
set(WISP_MODULES core plat/posix tls policy vhost http1 stream)
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
