# ctest: build both lwIP flavours for Cortex-M4 (tests/lwip/m4) and print
# arm-none-eabi-size of each port. Arguments: -DSRC= -DLWIP_DIR= -DOUT=
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC}/tests/lwip/m4 -B ${OUT}
    -DCMAKE_TOOLCHAIN_FILE=${SRC}/tests/lwip/m4/toolchain.cmake -DCMAKE_BUILD_TYPE=MinSizeRel
    -DWISP_SOURCE_DIR=${SRC} -DLWIP_DIR=${LWIP_DIR} RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "configuring the Cortex-M4 build failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${OUT} -j2 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the Cortex-M4 build failed")
endif()
foreach(f libwisp_port_raw.a libwisp_port_sockets.a raw_image.elf)
    execute_process(COMMAND arm-none-eabi-size ${OUT}/${f} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "arm-none-eabi-size ${f} failed")
    endif()
endforeach()
