// The user guide (docs/user-guide.md, "The exhaustion forecast") shows a forecast as a user sees
// it: keep that block equal to the approved forecast of the same scenario (itself checked against
// the program by golden.forecast.*). The README's tour shows excerpts of it, checked by the CTest
// test docs.readme-tour.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace {
std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
}  // namespace

TEST_CASE("readme: the forecast the user guide shows is the approved forecast of linux-default-range", "[readme]") {
    const std::string readme = slurp(std::string(TCPSIM_SOURCE_DIR) + "/docs/user-guide.md");
    const std::string command = "$ build/release/tcpsim run scenarios/capacity/linux-default-range.json\n";
    const auto a = readme.find(command);
    REQUIRE(a != std::string::npos);
    const auto b = readme.find("```", a);
    REQUIRE(b != std::string::npos);
    const std::string shown = readme.substr(a + command.size(), b - a - command.size());
    const std::string approved = slurp(std::string(TCPSIM_SOURCE_DIR) + "/scenarios/capacity/linux-default-range.forecast.txt");
    REQUIRE_FALSE(approved.empty());
    CHECK(shown == approved);
}
