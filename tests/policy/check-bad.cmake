# ctest helper: `wisp-policy check INPUT` must exit 1 and print exactly the lines of
# EXPECT on stderr. Run in the folder holding both, so paths print as given.
#   cmake -DTOOL=... -DINPUT=x.json -DEXPECT=x.err -P check-bad.cmake
execute_process(COMMAND ${TOOL} check ${INPUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
file(READ ${EXPECT} want)
if(NOT rc EQUAL 1)
    message(FATAL_ERROR "wisp-policy check ${INPUT}: exit ${rc}, want 1\n${err}")
endif()
if(NOT err STREQUAL want)
    message(FATAL_ERROR "wisp-policy check ${INPUT}: stderr differs.\n--- got:\n${err}--- want:\n${want}")
endif()
if(NOT out STREQUAL "")
    message(FATAL_ERROR "wisp-policy check ${INPUT}: unexpected stdout:\n${out}")
endif()
