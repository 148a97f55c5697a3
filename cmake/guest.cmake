# How guest code is compiled: freestanding C++ for a machine with no OS,
# loaded at a fixed address, entered in 64-bit long mode by the host.
set(INSTAR_GUEST_COMPILE_FLAGS
  -ffreestanding -fno-exceptions -fno-rtti -nostdlib -mno-red-zone
  -fno-pic -fno-pie -static -fno-stack-protector -fno-asynchronous-unwind-tables
  -fno-unwind-tables -fno-threadsafe-statics -fno-use-cxa-atexit -fcf-protection=none
  -march=x86-64 -mcmodel=small -O2 -g0
  ${INSTAR_WARNINGS})
set(INSTAR_GUEST_LINKER_SCRIPT ${PROJECT_SOURCE_DIR}/src/guest/linker.ld)
set(INSTAR_GUEST_LINK_FLAGS
  -nostdlib -static -no-pie -Wl,-T,${INSTAR_GUEST_LINKER_SCRIPT}
  -Wl,--build-id=none -Wl,-z,noexecstack -Wl,-z,max-page-size=4096 -Wl,--gc-sections
  # A section the linker script does not place would land outside the parts
  # the header declares (as the third-party archives' GOT once did).
  -Wl,--orphan-handling=error)

function(instar_guest_library target)
  add_library(${target} STATIC ${ARGN})
  target_compile_options(${target} PRIVATE ${INSTAR_GUEST_COMPILE_FLAGS} -ffunction-sections -fdata-sections)
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src)
endfunction()

# instar_guest_op(NAME <target> OUTPUT <path.bin> SOURCES ... [LIBS ...])
# Links one operation with the guest runtime into a flat binary.
function(instar_guest_op)
  cmake_parse_arguments(OP "" "NAME;OUTPUT" "SOURCES;LIBS" ${ARGN})
  add_executable(${OP_NAME} ${OP_SOURCES})
  target_compile_options(${OP_NAME} PRIVATE ${INSTAR_GUEST_COMPILE_FLAGS} -ffunction-sections -fdata-sections)
  target_include_directories(${OP_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  # The runtime is linked whole so its entry point and handlers are kept.
  target_link_libraries(${OP_NAME} PRIVATE ${OP_LIBS} -Wl,--whole-archive instar_guest_rt -Wl,--no-whole-archive -lgcc)
  target_link_options(${OP_NAME} PRIVATE ${INSTAR_GUEST_LINK_FLAGS})
  set_target_properties(${OP_NAME} PROPERTIES LINK_DEPENDS ${INSTAR_GUEST_LINKER_SCRIPT})
  add_custom_command(OUTPUT ${OP_OUTPUT}
    COMMAND ${CMAKE_OBJCOPY} -O binary $<TARGET_FILE:${OP_NAME}> ${OP_OUTPUT}
    DEPENDS ${OP_NAME}
    COMMENT "guest binary ${OP_OUTPUT}")
  add_custom_target(${OP_NAME}_bin ALL DEPENDS ${OP_OUTPUT})
endfunction()
