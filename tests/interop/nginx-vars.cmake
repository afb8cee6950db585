# Where the nginx test fixture lives, for any tests/ CMakeLists.txt that needs it:
#
#   include(${PROJECT_SOURCE_DIR}/tests/interop/nginx-vars.cmake)
#   add_test(NAME my_test COMMAND my_test ${WISP_TEST_NGINX_PORT} ...)
#   set_tests_properties(my_test PROPERTIES FIXTURES_REQUIRED nginx)
#
# Safe to include more than once. The fixture itself (the ctest tests nginx_start
# and nginx_stop) is defined in tests/interop/CMakeLists.txt; fixtures are global
# to ctest, so the order of add_subdirectory() does not matter.
set(WISP_TEST_NGINX_PORT 18443 CACHE STRING
    "First of the 8 loopback ports (PORT..PORT+7) the nginx test fixture listens on")
if(NOT WISP_TEST_NGINX_PORT MATCHES "^[0-9]+$" OR WISP_TEST_NGINX_PORT GREATER 65528
   OR WISP_TEST_NGINX_PORT LESS 1024)
    message(FATAL_ERROR "WISP_TEST_NGINX_PORT must be a number from 1024 to 65528")
endif()
# The fixture's state directory: nginx.conf, pid, logs, big.bin and big.sha256.
set(WISP_TEST_NGINX_DIR ${PROJECT_BINARY_DIR}/tests/interop/nginx)
# The CA that every fixture certificate except other-server.pem chains to.
set(WISP_TEST_NGINX_CA ${PROJECT_SOURCE_DIR}/tests/certs/ca.pem)
