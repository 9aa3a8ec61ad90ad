# firmnet: CMake toolchain file for bare-metal Arm (Cortex-M) with the GNU Arm toolchain
# (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi).
#
#   cmake -B build -DCMAKE_TOOLCHAIN_FILE=board/toolchain.cmake && cmake --build build
#
# The board's CPU flags (-mcpu, -mfpu, -mfloat-abi) and compiler flags come from
# firmnet_board_flags.cmake next to this file, which `firmnet compile --board B` writes;
# or give them yourself: -DFIRMNET_CPU_FLAGS="-mcpu=cortex-m4 -mthumb ...".
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
# No operating system to link a test program for: check the compiler with a static library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

if(NOT DEFINED FIRMNET_CPU_FLAGS)
    include(${CMAKE_CURRENT_LIST_DIR}/firmnet_board_flags.cmake OPTIONAL)
endif()
set(CMAKE_C_FLAGS_INIT "${FIRMNET_CPU_FLAGS} ${FIRMNET_BOARD_CFLAGS}")
set(CMAKE_ASM_FLAGS_INIT "${FIRMNET_CPU_FLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${FIRMNET_CPU_FLAGS}")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
