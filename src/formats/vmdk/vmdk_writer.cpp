#include "formats/vmdk/vmdk_writer.h"

namespace instar::formats::vmdk {

// Not written yet: convert -O vmdk is refused by the guest until it is.
Status open_writer(const WriterOpenParams&, ImageWriter*&) { return Status::format_unsupported; }

}  // namespace instar::formats::vmdk
