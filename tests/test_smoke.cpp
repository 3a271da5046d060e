#include "fixture.hpp"

using namespace tcpsim;
using namespace tcpsim::test;

TEST_CASE("CLOSED --active OPEN--> SYN-SENT: sends SYN with SEQ=ISS", "[closed]") {
    Fixture f;
    REQUIRE(f.ep.open_active(f.now, f.io, f.local, f.remote) == Errno::Ok);
    CHECK(f.ep.state() == tcp::State::SynSent);
    expect_sent(f.io, "S", f.iss);
}
