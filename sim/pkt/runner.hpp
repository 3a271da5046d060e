// Runs packetdrill scripts against one simulated host (the system under test) with an OS
// profile. The script plays the remote peer. Sequence numbers in the script are relative to the
// two initial sequence numbers; the mapping lives here, not in the TCP model.
#pragma once

#include "world/trace_record.hpp"

#include <set>
#include <string>
#include <vector>

namespace tcpsim::pkt {

// Passed and Failed: the script ran. Skipped: well-formed packetdrill using a feature the
// harness does not run. Error: not a packetdrill script at all (or not readable).
enum class Verdict : std::uint8_t { Passed, Failed, Skipped, Error };
std::string_view to_string(Verdict v);

struct ScriptResult {
    std::string path;
    Verdict verdict = Verdict::Passed;
    int lineno = 0;         // the line that failed, was not supported or is not packetdrill (0: the file)
    std::string line;       // its text
    std::string expected;   // what the script expected
    std::string actual;     // what happened
    std::string reason;     // a skip or error reason, or a one-line failure summary
};

struct RunOptions {
    std::string profile = "freebsd";
    std::set<std::string> defines;
    // When given, the run's events are kept here for a ladder or a capture (pkt --trace, --pcap):
    // host 0 is the system under test (its state in states[0]), host 1 the script's peer.
    std::vector<TraceRecord>* trace = nullptr;
};
// The two hosts of a script run, for a ladder's header.
TraceHeader script_trace_header(const std::string& path, const std::string& profile);

// Never throws for a script problem: unsupported scripts come back as Skipped, unreadable ones
// and text that is not packetdrill as Error, with the line and the reason; a bad profile name
// throws ScenarioError.
ScriptResult run_script(const std::string& path, const RunOptions& opt);

}  // namespace tcpsim::pkt
