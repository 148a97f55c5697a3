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

// qemu-img convert's progress (util/qemu-progress.c): in single precision,
// a line whenever the value moves by more than 1% either way or is 0 or
// 100 (so 100 may be printed twice: at the last chunk and at the end).
class QemuProgress {
public:
    explicit QemuProgress(bool enabled);
    void update(uint64_t done, uint64_t total);
    void finish();

private:
    void set(float current);
    bool enabled_;
    float last_print_ = 0;
};

}  // namespace instar::cli
