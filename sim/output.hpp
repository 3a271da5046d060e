// Output files are written atomically: a temporary file beside the target, then rename(2), so a
// reader never sees half a report and a failed run leaves no file behind (DESIGN.md §7).
#pragma once

#include <stdexcept>
#include <string>

namespace tcpsim {

class OutputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// path empty or "-": standard output.
void write_output(const std::string& path, const std::string& text);

}  // namespace tcpsim
