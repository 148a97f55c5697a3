// CPU exceptions in the guest are reported to the host (vector, RIP, error
// code, CR2) and end the run.
#pragma once

namespace instar::guest {
void install_idt();
}
