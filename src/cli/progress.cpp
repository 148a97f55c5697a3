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

QemuProgress::QemuProgress(bool enabled) : enabled_(enabled) {
    if (enabled_) set(0);
}

void QemuProgress::set(float current) {
    if (current > 100) current = 100;
    constexpr float kMinSkip = 1.0f;
    if (current > last_print_ + kMinSkip || current < last_print_ - kMinSkip || current == 0 || current == 100) {
        last_print_ = current;
        std::printf("    (%3.2f/100%%)\r", double(current));
        std::fflush(stdout);
    }
}

void QemuProgress::update(uint64_t done, uint64_t total) {
    if (enabled_ && total) set(float(100.0 * double(done) / double(total)));
}

void QemuProgress::finish() {
    if (!enabled_) return;
    set(100);
    std::printf("\n");
}

}  // namespace instar::cli
