#include "cli/progress.h"

#include <cstdio>

namespace instar::cli {

ProgressPrinter::ProgressPrinter(bool enabled) : enabled_(enabled) {
    if (enabled_) print(0);
}

void ProgressPrinter::print(double percent) {
    std::printf("    (%.2f/100%%)\r", percent);
    std::fflush(stdout);
    last_ = percent;
}

void ProgressPrinter::update(uint64_t done, uint64_t total) {
    if (!enabled_ || total == 0) return;
    double percent = 100.0 * double(done) / double(total);
    // qemu-img redraws when progress moves by at least 1%.
    if (percent - last_ >= 1.0) print(percent);
}

void ProgressPrinter::finish() {
    if (!enabled_) return;
    if (last_ < 100) print(100);
    std::printf("\n");
}

}  // namespace instar::cli
