#include "host/cpu_setup.h"

#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "abi/boot_config.h"
#include "abi/memory_map.h"
#include "host/error.h"

namespace instar {
namespace {

constexpr uint16_t kCodeSelector = 0x08;
constexpr uint16_t kDataSelector = 0x10;
constexpr uint16_t kTssSelector = 0x18;
constexpr uint64_t kTssOffset = 0x80;  // inside the GDT page
constexpr uint32_t kTssLimit = 103;
constexpr uint64_t kGdtEntries = 5;  // null, code, data, TSS (two slots)

// Descriptors have their "accessed" bit preset: the GDT page is read-only
// to the guest, and the CPU would otherwise write it on the first load.
constexpr uint64_t kCode64Descriptor = 0x00af9b000000ffffull;
constexpr uint64_t kDataDescriptor = 0x00cf93000000ffffull;

constexpr uint64_t kCr0Pe = 1ull << 0, kCr0Mp = 1ull << 1, kCr0Et = 1ull << 4, kCr0Ne = 1ull << 5,
                   kCr0Wp = 1ull << 16, kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5, kCr4Osfxsr = 1ull << 9, kCr4Osxmmexcpt = 1ull << 10;
constexpr uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10, kEferNxe = 1ull << 11;

void ioctl_or_throw(int fd, unsigned long request, void* arg, const char* what) {
    if (ioctl(fd, request, arg) < 0) throw_errno(what, errno);
}

kvm_segment segment(uint16_t selector, uint8_t type, bool code) {
    kvm_segment s{};
    s.base = 0;
    s.limit = 0xffffffff;
    s.selector = selector;
    s.type = type;
    s.present = 1;
    s.dpl = 0;
    s.s = 1;
    s.l = code ? 1 : 0;
    s.db = code ? 0 : 1;
    s.g = 1;
    return s;
}

// In C++, linux/kvm.h's flexible-array macro makes sizeof(kvm_cpuid2) 12
// instead of the kernel's 8, and the size is part of the ioctl number: fix it.
constexpr unsigned long with_kernel_cpuid2_size(unsigned long request) {
    return (request & ~(unsigned long)(_IOC_SIZEMASK << _IOC_SIZESHIFT)) | (8ul << _IOC_SIZESHIFT);
}
constexpr unsigned long kSetCpuid2 = with_kernel_cpuid2_size(KVM_SET_CPUID2);

// KVM_SET_MSRS has the same flexible-array problem.
constexpr unsigned long kSetMsrs = with_kernel_cpuid2_size(KVM_SET_MSRS);

// PVM (KVM on hosts without VMX/SVM, such as this project's CI machines)
// emulates a ring-0 guest instruction by instruction until the guest has a
// "virtual interrupt flag" page; with one it runs natively. Elsewhere the
// MSR does not exist, KVM_SET_MSRS sets nothing, and nothing changes.
constexpr uint32_t kMsrPvmVifPage = 0x4b564d10;
constexpr uint64_t kPvmVifInUserValid = 1ull << 10;  // "not in user mode" is meaningful

void register_paravirt_page(const Vm& vm) {
    struct {
        uint32_t nmsrs, pad;
        kvm_msr_entry entry;
    } msrs{1, 0, kvm_msr_entry{kMsrPvmVifPage, 0, abi::kParavirtPageBase | kPvmVifInUserValid}};
    ioctl(vm.vcpu_fd(), kSetMsrs, &msrs);  // 1 on PVM, 0 elsewhere: both fine
}

// CPUID feature bits (Intel SDM vol. 2A, CPUID).
constexpr uint32_t kCpuid1EdxFpu = 1u << 0, kCpuid1EdxPae = 1u << 6, kCpuid1EdxCx8 = 1u << 8,
                   kCpuid1EdxCmov = 1u << 15, kCpuid1EdxMmx = 1u << 23, kCpuid1EdxFxsr = 1u << 24,
                   kCpuid1EdxSse = 1u << 25, kCpuid1EdxSse2 = 1u << 26;
constexpr uint32_t kCpuidExt1EdxNx = 1u << 20, kCpuidExt1EdxLm = 1u << 29;

void set_cpuid(const Vm& vm) {
    // KVM accepts EFER.LME and EFER.NX only when the guest's CPUID
    // advertises long mode and no-execute. The guest gets just that and
    // the x86-64 baseline it is compiled for (-march=x86-64). Only zstd
    // runs CPUID in the guest (ZSTD_cpuid, once per context), for leaf 7's
    // BMI2, which a highest basic leaf of 1 withholds: it takes its
    // baseline code. Asking KVM for its whole supported table instead costs more
    // than the rest of the vCPU set-up together (~0.1 ms on PVM hosts).
    // Without leaf 0x80000008 KVM assumes 36 physical address bits, far
    // more than the guest's 66 MiB address space needs.
    struct {
        uint32_t nent, padding;
        kvm_cpuid_entry2 entries[4];
    } table{};
    auto leaf = [](uint32_t function, uint32_t eax, uint32_t edx) {
        kvm_cpuid_entry2 e{};
        e.function = function;
        e.eax = eax;
        e.edx = edx;
        return e;
    };
    table.entries[0] = leaf(0, 1, 0);  // highest basic leaf: 1
    table.entries[1] = leaf(1, 0,
                            kCpuid1EdxFpu | kCpuid1EdxPae | kCpuid1EdxCx8 | kCpuid1EdxCmov | kCpuid1EdxMmx |
                                kCpuid1EdxFxsr | kCpuid1EdxSse | kCpuid1EdxSse2);
    table.entries[2] = leaf(0x80000000, 0x80000001, 0);  // highest extended leaf
    table.entries[3] = leaf(0x80000001, 0, kCpuidExt1EdxNx | kCpuidExt1EdxLm);
    table.nent = sizeof table.entries / sizeof table.entries[0];
    ioctl_or_throw(vm.vcpu_fd(), kSetCpuid2, &table, "cannot set CPUID");
}

}  // namespace

void write_descriptor_tables(GuestMemory& memory) {
    uint8_t* page = memory.at(abi::kGdtBase, abi::kPageSize);
    std::memset(page, 0, abi::kPageSize);
    auto* gdt = reinterpret_cast<uint64_t*>(page);
    gdt[kCodeSelector / 8] = kCode64Descriptor;
    gdt[kDataSelector / 8] = kDataDescriptor;
    const uint64_t tss = abi::kGdtBase + kTssOffset;
    // 64-bit TSS descriptor: type 0xb (busy), present, base split across
    // both 8-byte slots.
    gdt[kTssSelector / 8] = (kTssLimit & 0xffff) | ((tss & 0xffffff) << 16) | (0x8bull << 40) |
                            (uint64_t(kTssLimit >> 16) << 48) | (((tss >> 24) & 0xff) << 56);
    gdt[kTssSelector / 8 + 1] = tss >> 32;
    static_assert((kTssSelector / 8 + 2) == kGdtEntries);
    // TSS: IST1 is the exception stack; no I/O permission bitmap.
    uint8_t* t = page + kTssOffset;
    const uint64_t ist1 = abi::kExceptionStackTop;
    std::memcpy(t + 0x24, &ist1, 8);
    const uint16_t iomap = kTssLimit + 1;
    std::memcpy(t + 0x66, &iomap, 2);
}

void setup_long_mode_cpu(const Vm& vm, uint64_t entry) {
    set_cpuid(vm);

    kvm_sregs sregs{};
    ioctl_or_throw(vm.vcpu_fd(), KVM_GET_SREGS, &sregs, "cannot read vCPU segment registers");
    sregs.cs = segment(kCodeSelector, 0xb, true);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = segment(kDataSelector, 0x3, false);
    // The stack protector's canary at %fs:0x28 (abi::GuestThreadBlock). In
    // long mode only the FS and GS bases count, and the guest never loads
    // a segment register, so this base stays for the run.
    sregs.fs.base = abi::kGuestFsBase;
    sregs.tr = kvm_segment{};
    sregs.tr.base = abi::kGdtBase + kTssOffset;
    sregs.tr.limit = kTssLimit;
    sregs.tr.selector = kTssSelector;
    sregs.tr.type = 0xb;
    sregs.tr.present = 1;
    sregs.gdt.base = abi::kGdtBase;
    sregs.gdt.limit = kGdtEntries * 8 - 1;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    sregs.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Pg;
    sregs.cr3 = abi::kPageTablesBase;
    sregs.cr4 = kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt;
    sregs.efer = kEferLme | kEferLma | kEferNxe;
    ioctl_or_throw(vm.vcpu_fd(), KVM_SET_SREGS, &sregs, "cannot set vCPU segment registers");

    kvm_regs regs{};
    regs.rip = entry;
    regs.rsp = abi::kStackTop;
    regs.rflags = 0x2;
    regs.rdi = abi::kBootConfigBase;
    ioctl_or_throw(vm.vcpu_fd(), KVM_SET_REGS, &regs, "cannot set vCPU registers");

    register_paravirt_page(vm);

    kvm_fpu fpu{};
    fpu.fcw = 0x37f;
    fpu.mxcsr = 0x1f80;
    ioctl_or_throw(vm.vcpu_fd(), KVM_SET_FPU, &fpu, "cannot set vCPU FPU state");
}

}  // namespace instar
