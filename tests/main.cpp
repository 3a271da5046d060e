// Test runner: Catch2's session, then the transition-table coverage check. Every row of the
// transition table must be taken by at least one test (fixtures count the rows they hit);
// when the whole suite ran (no test filter), a missed row fails the run and is named.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "fixture.hpp"

#include <cstdio>

int main(int argc, char* argv[]) {
    Catch::Session session;
    if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
    const int failed = session.run();
    const bool filtered = !session.configData().testsOrTags.empty();
    if (filtered || session.configData().listTests || session.configData().listTags) return failed;
    int missed = 0;
    const auto& hits = tcpsim::test::rows_hit();
    for (const auto& t : tcpsim::tcp::kTransitions) {
        if (hits[t.id] == 0) {
            std::fprintf(stderr, "transition-table row %u not exercised by any test: %s --%s--> %s (%s)\n",
                         static_cast<unsigned>(t.id), std::string(tcpsim::tcp::to_string(t.from)).c_str(),
                         std::string(tcpsim::tcp::to_string(t.trigger)).c_str(),
                         std::string(tcpsim::tcp::to_string(t.to)).c_str(), std::string(t.rfc_ref).c_str());
            ++missed;
        }
    }
    std::printf("transition-table coverage: %zu of %zu rows exercised by the tests\n",
                tcpsim::tcp::kTransitions.size() - static_cast<std::size_t>(missed), tcpsim::tcp::kTransitions.size());
    return failed + missed;
}
