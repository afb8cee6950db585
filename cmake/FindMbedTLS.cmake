# FindMbedTLS: locate Mbed TLS (Debian's libmbedtls-dev ships no CMake package).
#
# Defines MbedTLS_FOUND, MbedTLS_VERSION, MbedTLS_INCLUDE_DIR and the imported
# targets MbedTLS::mbedtls, MbedTLS::mbedx509 and MbedTLS::mbedcrypto.
# A source tree (WISP_MBEDTLS_SOURCE_DIR) is handled by cmake/mbedtls.cmake. An
# installed wisp that was built that way carries its mbedTLS in its own export
# (wisp::wisp_mbedtls) and installs wisp-mbedtls-bundled.cmake beside this file:
# then there is nothing to find.
if(EXISTS "${CMAKE_CURRENT_LIST_DIR}/wisp-mbedtls-bundled.cmake")
    include("${CMAKE_CURRENT_LIST_DIR}/wisp-mbedtls-bundled.cmake")
    set(MbedTLS_FOUND TRUE)
    return()
endif()

find_path(MbedTLS_INCLUDE_DIR NAMES mbedtls/ssl.h)
find_library(MbedTLS_LIBRARY NAMES mbedtls)
find_library(MbedX509_LIBRARY NAMES mbedx509)
find_library(MbedCrypto_LIBRARY NAMES mbedcrypto)

if(MbedTLS_INCLUDE_DIR)
    foreach(_hdr mbedtls/build_info.h mbedtls/version.h)
        if(EXISTS "${MbedTLS_INCLUDE_DIR}/${_hdr}")
            file(STRINGS "${MbedTLS_INCLUDE_DIR}/${_hdr}" _ver
                 REGEX "^#define[ \t]+MBEDTLS_VERSION_STRING[ \t]+\"[0-9.]+\"")
            if(_ver)
                string(REGEX REPLACE ".*\"([0-9.]+)\".*" "\\1" MbedTLS_VERSION "${_ver}")
                break()
            endif()
        endif()
    endforeach()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(MbedTLS
    REQUIRED_VARS MbedTLS_INCLUDE_DIR MbedTLS_LIBRARY MbedX509_LIBRARY MbedCrypto_LIBRARY
    VERSION_VAR MbedTLS_VERSION)

if(MbedTLS_FOUND AND NOT TARGET MbedTLS::mbedcrypto)
    add_library(MbedTLS::mbedcrypto UNKNOWN IMPORTED)
    set_target_properties(MbedTLS::mbedcrypto PROPERTIES
        IMPORTED_LOCATION "${MbedCrypto_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${MbedTLS_INCLUDE_DIR}")
    add_library(MbedTLS::mbedx509 UNKNOWN IMPORTED)
    set_target_properties(MbedTLS::mbedx509 PROPERTIES
        IMPORTED_LOCATION "${MbedX509_LIBRARY}"
        INTERFACE_LINK_LIBRARIES MbedTLS::mbedcrypto)
    add_library(MbedTLS::mbedtls UNKNOWN IMPORTED)
    set_target_properties(MbedTLS::mbedtls PROPERTIES
        IMPORTED_LOCATION "${MbedTLS_LIBRARY}"
        INTERFACE_LINK_LIBRARIES MbedTLS::mbedx509)
endif()
mark_as_advanced(MbedTLS_INCLUDE_DIR MbedTLS_LIBRARY MbedX509_LIBRARY MbedCrypto_LIBRARY)
