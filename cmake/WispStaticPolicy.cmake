# wisp_add_static_policy(TARGET FILE NAME)
#
# Compiles the JSON policy FILE into const C at build time with
# `wisp-policy compile FILE -o NAME.c -n NAME`, adds the generated NAME.c to TARGET
# and puts its directory on TARGET's include path, so that
#
#     #include "NAME.h"     /* extern const wisp_policy_t NAME; */
#
# gives the static policy to hand to wisp_context_create(). The files live in the
# build tree (<binary dir>/wisp-static-policy/) and are regenerated whenever FILE or
# the tool changes, so a firmware build never holds stale generated code. A relative
# FILE is taken from the calling directory. NAME must be a C identifier, unique in
# the calling directory.
#
# Which wisp-policy runs:
#  - the wisp-policy target of this build, when the build has one (host builds with
#    WISP_WITH_JSON_POLICY=ON and WISP_BUILD_TOOLS=ON);
#  - otherwise WISP_POLICY_TOOL, a wisp-policy built for the host. Cross builds for
#    an MCU, and builds with WISP_WITH_JSON_POLICY=OFF (which link no JSON code and so
#    cannot build the tool), build wisp-policy once for the host and pass
#    -DWISP_POLICY_TOOL=/path/to/wisp-policy;
#  - otherwise a wisp-policy found on PATH;
#  - otherwise one built for the host from this source tree, in
#    <build>/wisp-host-tools (an ExternalProject with the host compiler, JSON loader
#    on, only the tool's target), so a cross or JSON-off build needs no extra step.
set(WISP_POLICY_TOOL "" CACHE FILEPATH
    "A host wisp-policy, for builds that do not build the tool themselves")
set(_wisp_static_policy_src "${CMAKE_CURRENT_LIST_DIR}/..")

function(_wisp_host_policy_tool out_tool out_dep)
    set(bin "${CMAKE_BINARY_DIR}/wisp-host-tools")
    set(tool "${bin}/tools/wisp-policy/wisp-policy")
    if(NOT TARGET wisp_host_policy_tool)
        include(ExternalProject)
        get_filename_component(src "${_wisp_static_policy_src}" ABSOLUTE)
        if(NOT EXISTS "${src}/tools/wisp-policy/main.c")
            # The installed module has no source tree to build the tool from.
            message(FATAL_ERROR "wisp_add_static_policy: no wisp-policy found; install "
                                "wisp with its tools or set -DWISP_POLICY_TOOL=<path>")
        endif()
        ExternalProject_Add(wisp_host_policy_tool
            SOURCE_DIR "${src}"
            BINARY_DIR "${bin}"
            CMAKE_ARGS -DCMAKE_BUILD_TYPE=Release -DWISP_WITH_JSON_POLICY=ON
                       -DWISP_BUILD_TOOLS=ON -DWISP_BUILD_TESTS=OFF
            BUILD_COMMAND ${CMAKE_COMMAND} --build "${bin}" --target wisp-policy
            INSTALL_COMMAND ""
            BUILD_ALWAYS ON
            BUILD_BYPRODUCTS "${tool}")
    endif()
    set(${out_tool} "${tool}" PARENT_SCOPE)
    set(${out_dep} wisp_host_policy_tool "${tool}" PARENT_SCOPE)
endfunction()

function(wisp_add_static_policy target file name)
    if(NOT name MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
        message(FATAL_ERROR "wisp_add_static_policy: NAME must be a C identifier: ${name}")
    endif()
    get_filename_component(file "${file}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    set(dir "${CMAKE_CURRENT_BINARY_DIR}/wisp-static-policy")
    set(out_c "${dir}/${name}.c")
    set(out_h "${dir}/${name}.h")

    if(TARGET wisp-policy OR (WISP_WITH_JSON_POLICY AND WISP_BUILD_TOOLS
                              AND NOT CMAKE_CROSSCOMPILING AND NOT WISP_POLICY_TOOL))
        set(tool "$<TARGET_FILE:wisp-policy>")
        set(tool_dep wisp-policy)
    elseif(WISP_POLICY_TOOL)
        set(tool "${WISP_POLICY_TOOL}")
        set(tool_dep "${WISP_POLICY_TOOL}")
    else()
        find_program(WISP_POLICY_TOOL_PATH wisp-policy)
        if(WISP_POLICY_TOOL_PATH)
            set(tool "${WISP_POLICY_TOOL_PATH}")
            set(tool_dep "${WISP_POLICY_TOOL_PATH}")
        else()
            _wisp_host_policy_tool(tool tool_dep)
        endif()
    endif()

    file(MAKE_DIRECTORY "${dir}")
    add_custom_command(OUTPUT "${out_c}" "${out_h}"
        COMMAND ${tool} compile "${file}" -o "${out_c}" -n ${name}
        DEPENDS "${file}" ${tool_dep}
        COMMENT "wisp-policy: ${file} -> ${name}.c"
        VERBATIM)
    target_sources(${target} PRIVATE "${out_c}" "${out_h}")
    target_include_directories(${target} PRIVATE "${dir}")
endfunction()
