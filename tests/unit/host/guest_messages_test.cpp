// The hypercall message validator: every field of every message is checked
// before the host acts on it.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "abi/messages.h"
#include "abi/memory_map.h"
#include "host/escape.h"
#include "host/guest_fault.h"
#include "host/guest_memory.h"
#include "host/guest_messages.h"

namespace instar {
namespace {

constexpr uint64_t kAt = abi::kHeapBase;

class GuestMessagesTest : public ::testing::Test {
protected:
    GuestMemory memory{abi::kGuestRamSize};
    template <typename M>
    void place(const M& m, uint64_t at = kAt) {
        std::memcpy(memory.at(at, sizeof m), &m, sizeof m);
    }
    template <typename M>
    static M header() {
        M m{};
        m.header.magic = abi::kMessageMagic;
        m.header.size = sizeof(M);
        return m;
    }
    GuestMessage decode(abi::Hypercall h, uint64_t at = kAt) {
        return decode_guest_message(memory, abi::hypercall_port(h), at);
    }
};

TEST_F(GuestMessagesTest, DecodesALogLine) {
    auto m = header<abi::LogMessage>();
    std::memcpy(m.text, "hello", 5);
    m.length = 5;
    place(m);
    auto msg = decode(abi::Hypercall::log);
    ASSERT_TRUE(std::holds_alternative<GuestLog>(msg));
    EXPECT_EQ(std::get<GuestLog>(msg).text, "hello");
}

TEST_F(GuestMessagesTest, RefusesBadMagicAndSize) {
    auto m = header<abi::LogMessage>();
    m.header.magic = 0;
    place(m);
    EXPECT_THROW(decode(abi::Hypercall::log), GuestFault);
    m = header<abi::LogMessage>();
    m.header.size = sizeof m + 1;
    place(m);
    EXPECT_THROW(decode(abi::Hypercall::log), GuestFault);
}

TEST_F(GuestMessagesTest, RefusesTextLengthBeyondItsBuffer) {
    auto m = header<abi::LogMessage>();
    m.length = abi::kLogTextMax + 1;
    place(m);
    EXPECT_THROW(decode(abi::Hypercall::log), GuestFault);
    auto e = header<abi::ErrorMessage>();
    e.code = uint32_t(abi::GuestError::write_failed);
    e.length = 0xffffffff;
    place(e);
    EXPECT_THROW(decode(abi::Hypercall::error), GuestFault);
}

TEST_F(GuestMessagesTest, RefusesMessagesOutsideRam) {
    EXPECT_THROW(decode(abi::Hypercall::log, abi::kGuestRamSize - 8), GuestFault);
    EXPECT_THROW(decode(abi::Hypercall::result, abi::kGuestRamSize - 100), GuestFault);
    EXPECT_THROW(decode(abi::Hypercall::log, 0xffffffff), GuestFault);
}

TEST_F(GuestMessagesTest, RefusesUnknownPortsAndErrorCodes) {
    EXPECT_THROW(decode_guest_message(memory, abi::kHypercallPortBase + abi::kHypercallCount, kAt), GuestFault);
    EXPECT_THROW(decode_guest_message(memory, 0x3f8, kAt), GuestFault);
    auto e = header<abi::ErrorMessage>();
    e.code = 0;
    place(e);
    EXPECT_THROW(decode(abi::Hypercall::error), GuestFault);
    e.code = abi::kGuestErrorCount;
    place(e);
    EXPECT_THROW(decode(abi::Hypercall::error), GuestFault);
}

TEST_F(GuestMessagesTest, ResultPayloadIsBounded) {
    auto* r = reinterpret_cast<abi::ResultMessage*>(memory.at(kAt, sizeof(abi::ResultMessage)));
    r->header = {abi::kMessageMagic, sizeof(abi::ResultMessage)};
    r->op = 1;
    r->payload_size = abi::kResultPayloadMax + 1;
    EXPECT_THROW(decode(abi::Hypercall::result), GuestFault);
    r->payload_size = 3;
    std::memcpy(r->payload, "abc", 3);
    auto msg = decode(abi::Hypercall::result);
    EXPECT_EQ(std::get<GuestResult>(msg).payload.size(), 3u);
}

TEST_F(GuestMessagesTest, RecordsCarryExactlyTheirCount) {
    auto m = std::make_unique<abi::RecordsMessage>(header<abi::RecordsMessage>());
    m->op = 3;
    m->kind = 1;
    m->record_size = 8;
    m->count = 3;
    std::memcpy(m->payload, "abcdefghijklmnopqrstuvwxyz", 26);
    place(*m);
    auto msg = decode(abi::Hypercall::records);
    ASSERT_TRUE(std::holds_alternative<GuestRecords>(msg));
    const auto& r = std::get<GuestRecords>(msg);
    EXPECT_EQ(r.count, 3u);
    EXPECT_EQ(std::string(r.bytes.begin(), r.bytes.end()), "abcdefghijklmnopqrstuvwx");

    for (auto [size, count] : {std::pair{0u, 1u}, {8u, 0u}, {8u, abi::kRecordsPayloadMax / 8 + 1}, {0x10000001u, 16u},
                               {abi::kRecordsPayloadMax + 1, 1u}}) {
        SCOPED_TRACE(std::to_string(size) + " x " + std::to_string(count));
        m->record_size = size;
        m->count = count;
        place(*m);
        EXPECT_THROW(decode(abi::Hypercall::records), GuestFault);
    }
    m->record_size = abi::kRecordsPayloadMax;
    m->count = 1;
    place(*m);
    EXPECT_NO_THROW(decode(abi::Hypercall::records));
}

TEST_F(GuestMessagesTest, ProgressMustBeConsistent) {
    auto p = header<abi::ProgressMessage>();
    p.done = 10;
    p.total = 5;
    place(p);
    EXPECT_THROW(decode(abi::Hypercall::progress), GuestFault);
}

TEST(EscapeUntrusted, EscapesControlAndNonAsciiBytes) {
    EXPECT_EQ(escape_untrusted("plain text 1.2"), "plain text 1.2");
    EXPECT_EQ(escape_untrusted(std::string("a\x1b[31mb\n", 8)), "a\\x1b[31mb\\x0a");
    EXPECT_EQ(escape_untrusted("back\\slash"), "back\\x5cslash");
    EXPECT_EQ(escape_untrusted(std::string("\xff\0", 2)), "\\xff\\x00");
}

}  // namespace
}  // namespace instar
