#include "formats/vhdx/vhdx_writer.h"

namespace instar::formats::vhdx {

// Not written yet: convert -O vhdx is refused by the guest until it is.
Status open_writer(const WriterOpenParams&, ImageWriter*&) { return Status::format_unsupported; }

}  // namespace instar::formats::vhdx
