// What the guest asks of the host, whichever sandbox it runs in: a device
// register access or a message (a VM exit in the VM; a request on the
// channel in the op process). Both sandboxes hand every such request here,
// so a guest is held to the same rules in each.
#pragma once

#include <cstdint>
#include <optional>

#include "host/guest_devices.h"
#include "host/guest_memory.h"
#include "host/guest_records.h"
#include "host/guest_run.h"

namespace instar {

class GuestExits {
public:
    GuestExits(const GuestMemory& memory, GuestDevices& devices, const GuestRun& run);

    // A `len`-byte (1..8) register access at guest-physical `addr`; returns
    // what a read reads (0 for a write). Throws GuestFault outside every
    // device window.
    uint64_t mmio(uint64_t addr, bool is_write, uint32_t len, uint64_t value);

    // The message at `gpa` on `port`. Returns the run's output when it is
    // the result; throws GuestFailed for the op's failure, Error for a
    // crash report, GuestFault for anything malformed.
    std::optional<GuestOutput> hypercall(uint16_t port, uint64_t gpa);

private:
    const GuestMemory& memory_;
    GuestDevices& devices_;
    const GuestRun& run_;
    RecordCollector records_;
};

// "0x1f": how addresses appear in crash reports.
std::string hex(uint64_t v);

}  // namespace instar
