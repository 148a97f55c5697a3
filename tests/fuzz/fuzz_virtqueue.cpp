// The host side of a split virtqueue over arbitrary guest memory: hostile
// descriptor tables, avail rings, lengths and addresses, each popped chain
// executed as a virtio-blk request against a memfd disk.
//
// Must hold for every input: GuestFault is the only way out; no host access
// to guest RAM outside the DMA ranges (poisoned for ASan) or outside RAM
// (guard pages); every buffer of a popped chain inside one DMA range and
// clear of the queue's rings; the
// bytes reported written fit the chain; the disk never grows past its
// capacity and an input disk never changes. Layout: host_inputs.h.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_device.h"
#include "host/guest_fault.h"

using namespace instar;
using namespace instar::fuzz;

namespace {

uint64_t fold(uint64_t gpa, bool raw) { return raw ? gpa : gpa % (kFuzzRam + kPage); }

// No device buffer may overlap a ring (a read into one would re-arm it).
void check_clear_of_rings(const GuestMemory& memory, const DescriptorChain& chain,
                          std::initializer_list<GuestRange> rings) {
    auto check = [&](const iovec* iov, uint32_t count) {
        for (uint32_t i = 0; i < count; ++i) {
            const uint64_t start = uint64_t(static_cast<const uint8_t*>(iov[i].iov_base) - memory.base());
            const uint64_t end = start + iov[i].iov_len;
            for (const GuestRange& r : rings)
                if (iov[i].iov_len && start < r.end && r.start < end)
                    invariant_failed("a popped chain's buffer overlaps one of the queue's rings");
        }
    };
    check(chain.readable, chain.readable_count);
    check(chain.writable, chain.writable_count);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static GuardedGuestMemory memory(kFuzzRam);
    static MemFile file;

    VirtqueueHeader h{};
    std::memcpy(&h, data, std::min(size, sizeof h));
    const uint8_t* rest = data + std::min(size, sizeof h);
    size_t left = size - std::min(size, sizeof h);
    const bool raw = h.flags & kVqRawAddresses;
    const uint64_t desc = fold(h.desc_gpa, raw), avail = fold(h.avail_gpa, raw), used = fold(h.used_gpa, raw);

    unpoison_ram(*memory);
    std::memset(memory->base(), 0, memory->size());
    const uint32_t n = h.queue_size <= abi::virtio::kQueueSizeMax ? h.queue_size : 0;
    auto take = [&](uint64_t gpa, size_t want) {
        const size_t k = std::min(want, left);
        place(*memory, gpa, rest, k);
        rest += k;
        left -= k;
    };
    take(desc, size_t(abi::virtio::desc_table_bytes(n)));
    take(avail, size_t(abi::virtio::avail_ring_bytes(n)));
    take(h.data_gpa % kFuzzRam, left);

    const std::vector<GuestRange> ranges = dma_ranges_of(h);
    memory->set_dma_ranges(ranges);
    poison_outside(*memory, ranges);
    BlockBackend backend = backend_of(h, file);

    try {
        RingRegistry rings;
        SplitQueue queue(*memory, rings, h.queue_size, desc, avail, used);
        queue.snapshot();
        for (uint32_t i = 0; i < kFuzzMaxRequests; ++i) {
            DescriptorChain chain;
            if (!queue.pop(chain)) break;
            check_chain(*memory, ranges, chain);
            check_clear_of_rings(*memory, chain, {{desc, desc + abi::virtio::desc_table_bytes(n)},
                                                  {avail, avail + abi::virtio::avail_ring_bytes(n)},
                                                  {used, used + abi::virtio::used_ring_bytes(n)}});
            const uint32_t written = execute_block_request(backend, chain);
            if (written == 0 || written > writable_bytes(chain))
                invariant_failed("bytes reported written do not fit the chain's writable buffers");
            queue.push_used(chain.head, written);
        }
    } catch (const GuestFault&) {
        // The expected end of a hostile run.
    }
    unpoison_ram(*memory);
    check_file(backend, file.fd());
    return 0;
}
