#include "guest/heap.h"

#include "abi/memory_map.h"

namespace instar::guest {

formats::Arena& heap() {
    static formats::Arena arena(reinterpret_cast<void*>(abi::kHeapBase), abi::kHeapEnd - abi::kHeapBase);
    return arena;
}

}  // namespace instar::guest
