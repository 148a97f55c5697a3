// qemu-img's progress line ("    (42.00/100%)\r"), on stdout, for -p.
#pragma once

#include <cstdint>

namespace instar::cli {

class ProgressPrinter {
public:
    explicit ProgressPrinter(bool enabled);
    void update(uint64_t done, uint64_t total);
    void finish();

private:
    void print(double percent);
    bool enabled_;
    double last_ = -1;
};

}  // namespace instar::cli
