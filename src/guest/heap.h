// The guest's one allocator: a bump arena over the heap region of the
// memory map. Nothing is ever freed; an operation runs once.
#pragma once

#include "formats/common/arena.h"

namespace instar::guest {
formats::Arena& heap();
}
