# CMake toolchain file: cross-compile relayq for Debian 12 arm64 (Raspberry Pi
# 4/5, 64-bit Raspberry Pi OS) with Debian's aarch64-linux-gnu g++ 12.
#
# The arm64 libraries come from a sysroot of unpacked Debian 12 :arm64
# packages (bin/build-arm64 makes it): RELAYQ_ARM64_SYSROOT, given with -D or
# in the environment. The compiler's own C library and libstdc++ are those of
# the cross toolchain (/usr/aarch64-linux-gnu); everything relayq links
# (OpenSSL, SQLite, yaml-cpp, spdlog, fmt, zstd, cpp-httplib, Boost headers,
# GoogleTest, Google Benchmark, nlohmann-json, CLI11) is found in the sysroot
# only, never in the build machine's /usr.
#
# Test programs run under qemu-aarch64-static (CMAKE_CROSSCOMPILING_EMULATOR),
# so ctest and gtest_discover_tests work without binfmt_misc.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

if(NOT RELAYQ_ARM64_SYSROOT)
  set(RELAYQ_ARM64_SYSROOT "$ENV{RELAYQ_ARM64_SYSROOT}")
endif()
if(NOT RELAYQ_ARM64_SYSROOT OR NOT EXISTS "${RELAYQ_ARM64_SYSROOT}/usr/include")
  message(FATAL_ERROR "aarch64-linux-gnu.cmake: set RELAYQ_ARM64_SYSROOT to the arm64 sysroot bin/build-arm64 unpacks (got '${RELAYQ_ARM64_SYSROOT}')")
endif()
# try_compile projects (CheckCXXSourceCompiles, FindThreads) re-read this file.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES RELAYQ_ARM64_SYSROOT)
set(_sysroot "${RELAYQ_ARM64_SYSROOT}")

# Libraries, headers and CMake package files: the sysroot (and the cross
# toolchain's own directory), never the build machine's amd64 ones. Programs
# (pkg-config, sh) are the build machine's.
set(CMAKE_FIND_ROOT_PATH "${_sysroot}" /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (cpp-httplib, zstd) reads the sysroot's .pc files only and
# prefixes their paths with the sysroot.
set(ENV{PKG_CONFIG_DIR} "")
set(ENV{PKG_CONFIG_LIBDIR} "${_sysroot}/usr/lib/aarch64-linux-gnu/pkgconfig:${_sysroot}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${_sysroot}")

# The cross g++ searches the build machine's /usr/include last; the sysroot's
# headers (and its multiarch ones: OpenSSL's configuration.h) come first, so
# an amd64 header of another version is never picked up.
set(CMAKE_C_FLAGS_INIT "-isystem ${_sysroot}/usr/include/aarch64-linux-gnu -isystem ${_sysroot}/usr/include")
set(CMAKE_CXX_FLAGS_INIT "${CMAKE_C_FLAGS_INIT}")
# The sysroot's shared libraries need each other at link time (cpp-httplib ->
# brotli, zlib, OpenSSL).
set(_rpath_link "-Wl,-rpath-link,${_sysroot}/usr/lib/aarch64-linux-gnu -Wl,-rpath-link,${_sysroot}/lib/aarch64-linux-gnu")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_rpath_link}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_rpath_link}")

# ctest, gtest_discover_tests and the whole-process tests' relayq run under
# user-mode qemu with the sysroot as the guest's /.
find_program(RELAYQ_QEMU_AARCH64 qemu-aarch64-static PATHS /usr/bin NO_CMAKE_FIND_ROOT_PATH)
if(RELAYQ_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${RELAYQ_QEMU_AARCH64};-L;${_sysroot}")
endif()
