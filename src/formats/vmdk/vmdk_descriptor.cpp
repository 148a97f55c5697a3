#include "formats/vmdk/vmdk_descriptor.h"

namespace instar::formats::vmdk {

void write_descriptor(TextBuilder& out, const DescriptorFields& f) {
    out.str("# Disk DescriptorFile\nversion=1\nCID=");
    out.hex(f.cid);
    out.str("\nparentCID=");
    out.hex(f.parent_cid);
    out.str("\ncreateType=\"");
    out.str(f.create_type);
    out.str("\"\n");
    // qemu ends the hint without a newline, so the blank line that follows
    // createType disappears when there is a parent; kept for identity.
    if (f.parent_hint != nullptr) {
        out.str("parentFileNameHint=\"");
        out.str(f.parent_hint);
        out.str("\"");
    }
    out.str("\n# Extent description\nRW ");
    out.dec(f.extent_sectors);
    out.str(" SPARSE \"");
    out.str(f.extent_file);
    out.str("\"\n\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"");
    out.str(f.hw_version);
    out.str("\"\nddb.geometry.cylinders = \"");
    out.dec(f.cylinders);
    out.str("\"\nddb.geometry.heads = \"");
    out.dec(f.heads);
    out.str("\"\nddb.geometry.sectors = \"");
    out.dec(kGeometrySectors);
    out.str("\"\nddb.adapterType = \"");
    out.str(f.adapter_type);
    out.str("\"\nddb.toolsVersion = \"");
    out.str(f.tools_version);
    out.str("\"\n");
}

}  // namespace instar::formats::vmdk
