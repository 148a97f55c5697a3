// The run's registry of live rings: the O(log n) overlap query agrees with
// the obvious one for rings that overlap each other, touch, nest, and come
// and go, as a guest with 2049 devices can arrange them.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "host/ring_registry.h"

namespace instar {
namespace {

struct Live {
    GuestRange range;
    int owner;
};

bool brute_force(const std::vector<Live>& live, uint64_t gpa, uint64_t len) {
    if (len == 0) return false;
    for (const Live& l : live)
        if (gpa < l.range.end && l.range.start < gpa + len) return true;
    return false;
}

TEST(RingRegistryTest, EdgesAreExclusive) {
    RingRegistry r;
    int owner = 0;
    r.add(&owner, {{0x1000, 0x1010}, {0x2000, 0x2206}, {0x3000, 0x3806}});
    EXPECT_FALSE(r.overlaps(0x0ff0, 0x10)) << "ends where the ring starts";
    EXPECT_TRUE(r.overlaps(0x0ff0, 0x11));
    EXPECT_FALSE(r.overlaps(0x1010, 0xff0)) << "starts where the ring ends, ends where the next starts";
    EXPECT_TRUE(r.overlaps(0x100f, 1));
    EXPECT_TRUE(r.overlaps(0x2100, 1)) << "inside";
    EXPECT_TRUE(r.overlaps(0, 0x10000)) << "around all";
    EXPECT_FALSE(r.overlaps(0x1008, 0)) << "an empty buffer moves nothing";
    r.remove(&owner);
    EXPECT_FALSE(r.overlaps(0, 0x10000));
}

TEST(RingRegistryTest, AgreesWithBruteForce) {
    std::mt19937_64 rng(10);
    RingRegistry r;
    std::vector<Live> live;
    int owners[64];
    for (int round = 0; round < 2000; ++round) {
        int o = int(rng() % 64);
        if (rng() % 3 == 0) {
            r.remove(&owners[o]);
            std::erase_if(live, [o](const Live& l) { return l.owner == o; });
        } else {
            // Three rings, sometimes a long one (a big table covering others).
            GuestRange g[3];
            for (GuestRange& x : g) {
                x.start = rng() % 0x100000;
                x.end = x.start + 1 + (rng() % 8 == 0 ? rng() % 0x40000 : rng() % 0x1000);
                live.push_back({x, o});
            }
            r.add(&owners[o], {g[0], g[1], g[2]});
        }
        for (int q = 0; q < 20; ++q) {
            uint64_t gpa = rng() % 0x110000, len = rng() % 4 == 0 ? rng() % 0x10000 : rng() % 64;
            ASSERT_EQ(r.overlaps(gpa, len), brute_force(live, gpa, len)) << std::hex << gpa << "+" << len;
        }
    }
}

}  // namespace
}  // namespace instar
