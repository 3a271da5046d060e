// Scenario overrides: `--set POINTER=VALUE` replaces (or adds) one value of a scenario file
// before it is validated, so every what-if is the same file with a few values changed. VALUE is
// read as JSON when it parses (1, true, "x", [..], {..}), otherwise taken as a string (600s,
// freebsd, 1024 65535). The pointer is an RFC 6901 JSON pointer; "-" appends to an array;
// the value null removes an object's key (as in an RFC 7396 merge patch).
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace tcpsim {

// A malformed command-line argument (exit code 2, DESIGN.md §7).
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Override {
    std::string pointer;   // "/clients/0/arrival/rate"
    nlohmann::json value;  // 600
    [[nodiscard]] std::string text() const;  // "/clients/0/arrival/rate=600", as a user would type it
};

// Reads "POINTER=VALUE"; throws UsageError on a missing '=' or a malformed pointer.
Override parse_override(const std::string& arg);
// Reads one VALUE (JSON when it parses, else the string itself).
nlohmann::json parse_override_value(const std::string& text);
// The same for a value given on the command line: one that is not valid UTF-8, or JSON nested
// deeper than kMaxJsonDepth, throws UsageError "OPTION: what is wrong".
nlohmann::json parse_checked_value(const std::string& text, const std::string& option);
// Splits "v1,v2,..." at the commas outside brackets, braces and quotes.
std::vector<std::string> split_values(const std::string& list);

// Applies the overrides in order; a pointer through a value that is not an object or array,
// or an array index past the end, throws ScenarioError naming the file and the override.
void apply_overrides(nlohmann::json& doc, const std::vector<Override>& sets, const std::string& file);

// The value at a pointer of a scenario document, or nullptr when there is none.
const nlohmann::json* value_at(const nlohmann::json& doc, const std::string& pointer);

}  // namespace tcpsim
