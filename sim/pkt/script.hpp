// The packetdrill language, as far as tcpsim runs it: a parser from script text to a list of
// timed events. Packetdrill (Cardwell et al., USENIX ATC 2013) scripts play the remote peer:
// `<` injects a segment, `>` expects one from the system under test, other lines are socket
// calls with their expected results, backtick lines are shell commands, `%{ }%` is Python.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace tcpsim::pkt {

enum class TimeKind : std::uint8_t { Absolute, Relative, Any };

struct PktOption {
    std::string kind;  // "mss", "TS", "sackOK", "wscale", "nop", "eol", ...
    std::uint32_t value = 0;   // mss / wscale value, TS val
    std::uint32_t value2 = 0;  // TS ecr
    std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks;  // sack: start:end, in order
};

struct PktSegment {
    bool inbound = true;     // '<': from the script's peer to the system under test
    std::string flags;       // "S", "S.", ".", "F.", "R", "R.", "P.", "SF", ...
    bool any_seq = false;    // "...(N)": any start
    std::uint32_t seq = 0;   // relative start
    std::uint32_t end = 0;   // relative end
    std::uint32_t len = 0;
    bool has_ack = false;
    std::uint32_t ack = 0;   // relative
    bool has_win = false;
    std::uint32_t win = 0;
    bool has_options = false;
    std::vector<PktOption> options;
};

struct Syscall {
    std::string name;               // "socket", "connect", ...
    std::vector<std::string> args;  // top-level comma-separated, trimmed
    bool result_any = false;        // "= ..." (not used by the suite, accepted)
    std::int64_t result = 0;
    std::string errno_name;         // "EINPROGRESS" when the result is -1 with an errno
};

enum class LineKind : std::uint8_t { Packet, Syscall, Command, Python };

struct ScriptLine {
    int lineno = 0;
    std::string text;  // the source line, for messages
    TimeKind time_kind = TimeKind::Absolute;
    std::int64_t time_us = 0;  // absolute or relative, microseconds
    // A time range "a~b" (or "+a~+b"): any time from time_us to time_end_us (-1: no range).
    std::int64_t time_end_us = -1;
    // A blocking system call "t...end": it starts at the line's time and must return at end
    // (relative like the start; -1: not a blocking call's line).
    std::int64_t block_end_us = -1;
    // A `command` before or after the events, without a time (packetdrill's init and cleanup
    // commands): run when the script reaches it, at the current time.
    bool untimed = false;
    LineKind kind = LineKind::Packet;
    PktSegment seg;
    Syscall call;
    std::string command;  // backtick content, or the Python code
};

struct Script {
    std::string path;
    std::string ip_version = "ipv4";
    std::int64_t tolerance_us = 4000;  // packetdrill's default --tolerance_usecs
    std::vector<ScriptLine> lines;
};

// Thrown for packetdrill that the harness does not run (a time range, ECN flags, an option it
// does not model, ...): the script is SKIPPED with the reason.
struct Unsupported {
    int lineno;
    std::string reason;
};

// Thrown for text that is not packetdrill (prose, binary junk, a packet without sequence
// numbers, an unterminated comment, a script without events, ...): the script is an ERROR.
// The line is the one where packetdrill's own parser would stop (0: the file as a whole).
struct SyntaxError {
    int lineno;
    std::string reason;
};

// Parses a script with the given preprocessor symbols defined (#ifdef/#ifndef/#else/#endif).
// Throws SyntaxError for the first line that is not packetdrill, wherever it is; otherwise
// Unsupported for the first construct outside the supported subset.
Script parse_script(const std::string& text, const std::string& path, const std::set<std::string>& defines);

}  // namespace tcpsim::pkt
