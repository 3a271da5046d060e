// Runs packetdrill scripts against one simulated host (the system under test) with an OS
// profile. The script plays the remote peer. Sequence numbers in the script are relative to the
// two initial sequence numbers; the mapping lives here, not in the TCP model.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace tcpsim::pkt {

enum class Verdict : std::uint8_t { Passed, Failed, Skipped };
std::string_view to_string(Verdict v);

struct ScriptResult {
    std::string path;
    Verdict verdict = Verdict::Passed;
    int lineno = 0;         // the line that failed or was not supported
    std::string line;       // its text
    std::string expected;   // what the script expected
    std::string actual;     // what happened
    std::string reason;     // a skip reason, or a one-line failure summary
};

struct RunOptions {
    std::string profile = "freebsd";
    std::set<std::string> defines;
};

// Never throws for a script problem: unreadable or unsupported scripts come back as Skipped
// with the reason; a bad profile name throws ScenarioError.
ScriptResult run_script(const std::string& path, const RunOptions& opt);

}  // namespace tcpsim::pkt
