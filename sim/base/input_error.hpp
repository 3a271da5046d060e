// The error every reader of a user's file throws: its message names the file, the place (a JSON
// pointer or line:column) and what is wrong (DESIGN.md; docs/scenario-format.md). The command line
// prints it and exits non-zero.
#pragma once

#include <stdexcept>

namespace tcpsim {

class ScenarioError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace tcpsim
