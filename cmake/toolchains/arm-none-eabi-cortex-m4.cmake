# Cross toolchain: Arm Cortex-M4F (hard float), bare metal, Debian's gcc-arm-none-eabi
# with newlib-nano. Used for the firmware build (tests/firmware, `make firmware`):
#
#   cmake -S . -B build-fw -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-none-eabi-cortex-m4.cmake
#
# Code is compiled -Os with one section per function and per object, so the image's
# --gc-sections link keeps only what is reachable. Linking an executable needs a
# board's startup code and linker script; the toolchain gives only the C runtime
# (newlib-nano). try_compile() builds a static library, because a test executable
# cannot link without a board.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
set(CMAKE_AR arm-none-eabi-ar)
set(CMAKE_RANLIB arm-none-eabi-ranlib)
set(CMAKE_OBJCOPY arm-none-eabi-objcopy)
set(CMAKE_SIZE arm-none-eabi-size)

set(WISP_CPU_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
set(CMAKE_C_FLAGS_INIT "${WISP_CPU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${WISP_CPU_FLAGS}")
set(CMAKE_C_FLAGS_MINSIZEREL_INIT "-Os -DNDEBUG")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${WISP_CPU_FLAGS} --specs=nano.specs -Wl,--gc-sections")

# Libraries and headers come from the cross prefixes named in CMAKE_FIND_ROOT_PATH
# (the cached mbedTLS build); programs (wisp-policy, python) from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
