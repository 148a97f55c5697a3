#include "guest/heap.h"

#include "abi/memory_map.h"
#include "guest/platform.h"

namespace instar::guest {

formats::Arena& heap() {
    // The host hands over zeroed RAM, so nothing needs clearing up front.
    static formats::Arena arena(platform::ram_at(abi::kHeapBase), abi::kHeapEnd - abi::kHeapBase,
                                /*known_zero=*/true);
    return arena;
}

}  // namespace instar::guest
