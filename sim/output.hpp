// Output files are written atomically: a temporary file beside the target, then rename(2), so a
// reader never sees half a report and a failed run leaves no file behind (DESIGN.md §7).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tcpsim {

class OutputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// path empty or "-": standard output.
void write_output(const std::string& path, const std::string& text);

// Several outputs of one command (path, text), all or none: every file is written to its
// temporary first, and only when all of them are written do they replace their targets; a
// failure removes the temporaries and leaves every target as it was. Standard output last.
void write_outputs(const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace tcpsim
