# Debian's zlib and zstd (zlib1g-dev, libzstd-dev), the static archives:
# linked into the guest operations (freestanding: only the members the
# format code reaches, their libc needs met by the guest runtime) and, the
# same archives, into the native builds of the format code, so the unit
# tests and fuzzers run the very objects the guest runs. See
# ARCHITECTURE.md, "Third-party code in the guest".
find_library(INSTAR_LIBZ_ARCHIVE NAMES libz.a REQUIRED)
find_library(INSTAR_LIBZSTD_ARCHIVE NAMES libzstd.a REQUIRED)
add_library(instar_compression_archives INTERFACE)
target_link_libraries(instar_compression_archives INTERFACE ${INSTAR_LIBZSTD_ARCHIVE} ${INSTAR_LIBZ_ARCHIVE})
