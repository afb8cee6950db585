# Mbed TLS for wisp: Debian's installed library, or a source tree built in-tree.
#
#   (default)                          find_package(MbedTLS 2.28) through FindMbedTLS
#   -DWISP_MBEDTLS_SOURCE_DIR=DIR      build DIR (2.28.x or 3.6.x) as static PIC
#                                      libraries inside wisp's build tree;
#                                      scripts/get-mbedtls-source.sh fetches one
#
# Either way wisp links one target, wisp_mbedtls (an INTERFACE library exported as
# wisp::wisp_mbedtls), so nothing else in the tree knows where mbedTLS came from:
#   - found:   it links the MbedTLS:: imported targets of FindMbedTLS, and an installed
#              wisp finds the same library again (FindMbedTLS is installed with it);
#   - source:  in the build tree it links mbedTLS's own targets; installed, it links
#              the three static libraries, which are installed with wisp under
#              LIBDIR/wisp/ (a private folder, so they can never shadow or be shadowed
#              by a system libmbedtls), by full path from the exported targets and
#              from wisp.pc.
# Why not mbedTLS's own export set: 2.28 has none (its targets' include paths point
# into the source tree, which install(EXPORT) refuses), and 3.6 as a subproject turns
# its export off and adds MbedTLS:: aliases of its own (so wisp adds an alias only
# where none exists).
#
# Sets WISP_MBEDTLS_BUNDLED, MbedTLS_VERSION and WISP_PC_MBEDTLS_LIBS (what wisp.pc's
# Libs.private needs for mbedTLS).
include(GNUInstallDirs)
set(WISP_MBEDTLS_BUNDLED OFF)
if(WISP_MBEDTLS_SOURCE_DIR)
    get_filename_component(_src "${WISP_MBEDTLS_SOURCE_DIR}" ABSOLUTE)
    set(MbedTLS_VERSION "")
    foreach(_hdr include/mbedtls/build_info.h include/mbedtls/version.h)
        if(NOT MbedTLS_VERSION AND EXISTS "${_src}/${_hdr}")
            file(STRINGS "${_src}/${_hdr}" _ver
                 REGEX "^#define[ \t]+MBEDTLS_VERSION_STRING[ \t]+\"[0-9.]+\"")
            string(REGEX REPLACE ".*\"([0-9.]+)\".*" "\\1" MbedTLS_VERSION "${_ver}")
        endif()
    endforeach()
    if(NOT MbedTLS_VERSION MATCHES "^(2\\.28|3\\.6)\\.")
        message(FATAL_ERROR "WISP_MBEDTLS_SOURCE_DIR=${_src}: not an mbedTLS 2.28 or 3.6 "
                            "source tree (version '${MbedTLS_VERSION}')")
    endif()
    # Only the three libraries, static and position-independent (libwisp.so absorbs
    # them), without mbedTLS's programs, tests, install rules or -Werror (its
    # warnings under wisp's compilers are not wisp's to fix).
    set(ENABLE_TESTING OFF CACHE BOOL "" FORCE)
    set(ENABLE_PROGRAMS OFF CACHE BOOL "" FORCE)
    set(USE_STATIC_MBEDTLS_LIBRARY ON CACHE BOOL "" FORCE)
    set(USE_SHARED_MBEDTLS_LIBRARY OFF CACHE BOOL "" FORCE)
    set(MBEDTLS_FATAL_WARNINGS OFF CACHE BOOL "" FORCE)
    set(INSTALL_MBEDTLS_HEADERS OFF CACHE BOOL "" FORCE)
    set(DISABLE_PACKAGE_CONFIG_AND_INSTALL ON CACHE BOOL "" FORCE)
    set(GEN_FILES OFF CACHE BOOL "" FORCE)
    # 2.28's project() predates CMP0048; take the new behaviour instead of a warning.
    set(CMAKE_POLICY_DEFAULT_CMP0048 NEW)
    add_subdirectory("${_src}" mbedtls EXCLUDE_FROM_ALL)
    foreach(_lib mbedtls mbedx509 mbedcrypto)
        set_target_properties(${_lib} PROPERTIES POSITION_INDEPENDENT_CODE ON)
        if(NOT TARGET MbedTLS::${_lib})
            add_library(MbedTLS::${_lib} ALIAS ${_lib})
        endif()
    endforeach()
    set(WISP_MBEDTLS_BUNDLED ON)
    message(STATUS "Mbed TLS ${MbedTLS_VERSION} from source: ${_src}")

    set(_dir ${CMAKE_INSTALL_LIBDIR}/wisp)
    add_library(wisp_mbedtls INTERFACE)
    target_link_libraries(wisp_mbedtls INTERFACE
        $<BUILD_INTERFACE:MbedTLS::mbedtls>
        $<INSTALL_INTERFACE:$<INSTALL_PREFIX>/${_dir}/libmbedtls.a>
        $<INSTALL_INTERFACE:$<INSTALL_PREFIX>/${_dir}/libmbedx509.a>
        $<INSTALL_INTERFACE:$<INSTALL_PREFIX>/${_dir}/libmbedcrypto.a>)
    install(FILES $<TARGET_FILE:mbedtls> $<TARGET_FILE:mbedx509> $<TARGET_FILE:mbedcrypto>
            DESTINATION ${_dir})
    # Tells the installed FindMbedTLS that the libraries came with wisp.
    file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/wisp-mbedtls-bundled.cmake
         "# wisp was built with Mbed TLS ${MbedTLS_VERSION} from source; its static\n"
         "# libraries are installed in LIBDIR/wisp and linked by wisp::wisp_mbedtls.\n"
         "set(MbedTLS_VERSION ${MbedTLS_VERSION})\n")
    install(FILES ${CMAKE_CURRENT_BINARY_DIR}/wisp-mbedtls-bundled.cmake
            DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/wisp)
    set(WISP_PC_MBEDTLS_LIBS
        "\${libdir}/wisp/libmbedtls.a \${libdir}/wisp/libmbedx509.a \${libdir}/wisp/libmbedcrypto.a")
else()
    find_package(MbedTLS 2.28 REQUIRED)
    add_library(wisp_mbedtls INTERFACE)
    target_link_libraries(wisp_mbedtls INTERFACE MbedTLS::mbedtls)
    # The libraries that were found, not whichever "-lmbedtls" a consumer's linker
    # meets first: -lNAME only for a library in the linker's own search path.
    set(WISP_PC_MBEDTLS_LIBS "")
    foreach(_lib MbedTLS_LIBRARY MbedX509_LIBRARY MbedCrypto_LIBRARY)
        get_filename_component(_d "${${_lib}}" DIRECTORY)
        get_filename_component(_n "${${_lib}}" NAME_WE)
        string(REGEX REPLACE "^lib" "" _n "${_n}")
        if(_d IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
            string(APPEND WISP_PC_MBEDTLS_LIBS " -l${_n}")
        else()
            string(APPEND WISP_PC_MBEDTLS_LIBS " ${${_lib}}")
        endif()
    endforeach()
    string(STRIP "${WISP_PC_MBEDTLS_LIBS}" WISP_PC_MBEDTLS_LIBS)
endif()
install(TARGETS wisp_mbedtls EXPORT wispTargets)
