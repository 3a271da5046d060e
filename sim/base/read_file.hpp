// Reading an input file whole, with an error that says why it could not be read.
#pragma once

#include <string>

namespace tcpsim {

// The bytes of the file at `path`. Throws ScenarioError "PATH: cannot read: No such file or
// directory" (the system's reason), or "PATH: is a directory, not a file".
std::string read_text_file(const std::string& path);

}  // namespace tcpsim
