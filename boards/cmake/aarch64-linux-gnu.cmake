# firmnet: CMake toolchain file for 64-bit Arm Linux (Raspberry Pi 4 and the like) with the
# GNU cross compiler (Debian: gcc-aarch64-linux-gnu).
#
#   cmake -B build -DCMAKE_TOOLCHAIN_FILE=board/toolchain.cmake && cmake --build build
#
# The board's CPU and compiler flags come from firmnet_board_flags.cmake next to this
# file (written by `firmnet compile --board B`), or -DFIRMNET_CPU_FLAGS="-mcpu=cortex-a72".
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)

if(NOT DEFINED FIRMNET_CPU_FLAGS)
    include(${CMAKE_CURRENT_LIST_DIR}/firmnet_board_flags.cmake OPTIONAL)
endif()
set(CMAKE_C_FLAGS_INIT "${FIRMNET_CPU_FLAGS} ${FIRMNET_BOARD_CFLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${FIRMNET_CPU_FLAGS}")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
