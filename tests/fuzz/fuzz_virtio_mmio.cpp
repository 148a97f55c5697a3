// One virtio-mmio block device driven through its register window by an
// arbitrary sequence of guest accesses (feature negotiation, queue setup,
// notifies, resets), over arbitrary guest memory: the device as the vCPU
// loop sees it. Layout: host_inputs.h (MmioHeader, MmioOp).
//
// Must hold: GuestFault is the only way out (it ends the run, as in
// guest_run.cpp); no host access to guest RAM outside the DMA ranges or
// outside RAM; a notify returns (libFuzzer's -timeout catches one that does
// not); the disk never grows past its capacity.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "abi/memory_map.h"
#include "fuzz_device.h"
#include "host/guest_fault.h"
#include "host/deadline.h"
#include "host/ring_registry.h"
#include "host/virtio_mmio_block.h"

using namespace instar;
using namespace instar::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static GuardedGuestMemory memory(kFuzzRam);
    static MemFile file;

    MmioHeader h{};
    std::memcpy(&h, data, std::min(size, sizeof h));
    const uint8_t* rest = data + std::min(size, sizeof h);
    const size_t left = size - std::min(size, sizeof h);
    const size_t contents = std::min<size_t>(h.ops_offset, left);

    unpoison_ram(*memory);
    std::memset(memory->base(), 0, memory->size());
    place(*memory, h.vq.data_gpa % kFuzzRam, rest, contents);
    const std::vector<GuestRange> ranges = dma_ranges_of(h.vq);
    memory->set_dma_ranges(ranges);
    poison_outside(*memory, ranges);
    BlockBackend backend = backend_of(h.vq, file);

    {
        // The run's rings and a deadline that never comes (no timer: the
        // fuzzer's own -timeout catches a notify that does not return).
        static const Deadline deadline(nullptr, std::chrono::hours(24));
        RingRegistry rings;
        VirtioMmioBlock device(*memory, rings, deadline, backend);
        const uint8_t* ops = rest + contents;
        const size_t count = (left - contents) / sizeof(MmioOp);
        try {
            for (size_t i = 0; i < count; ++i) {
                MmioOp op;
                std::memcpy(&op, ops + i * sizeof op, sizeof op);
                const uint32_t bytes = 1u << (op.size_log % 4);  // KVM reports 1, 2, 4 or 8
                const uint64_t offset = op.offset % abi::kMmioWindow;
                if (op.kind == 0) {
                    const uint64_t v = device.read(offset, bytes);
                    if (bytes < 8 && (v >> (8 * bytes)) != 0) invariant_failed("register read wider than the access");
                } else {
                    device.write(offset, op.value, bytes);
                }
            }
        } catch (const GuestFault&) {
            // The run ends here, as guest_run.cpp ends it.
        }
    }
    unpoison_ram(*memory);
    check_file(backend, file.fd());
    return 0;
}
