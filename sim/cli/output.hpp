// Output files (DESIGN.md §7): a reader never sees half a report, a failed run leaves no file
// behind, and nothing that is not a regular file is ever replaced. What an output path may be:
//   - "-" (or an empty path): standard output, wherever an output is named;
//   - a regular file, or a path where nothing is yet: written to a temporary beside it, then
//     rename(2)d over it (the replaced file's permission bits are kept; a hard link to it keeps
//     the old content, as with any atomic replace);
//   - a symlink (or a chain of them): the file it finally names follows these same rules, with
//     the temporary in THAT file's folder, so the link stays a link to where it pointed. A
//     dangling link is written through as a shell's `>` would: its final target is created (in
//     its folder, which must exist);
//   - a character or block device, a FIFO or a Unix socket: opened as it is (no creating, no
//     truncating; a socket is connected to) and the bytes written straight through, never
//     renamed over. A FIFO with no reader waits for one, as `>` does;
//   - a directory: an error, `PATH: cannot write: Is a directory`.
// Errors read `PATH: cannot write: REASON`.
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

// Several outputs of one command (path, text), all or none as far as can be: every path is
// checked first; every regular-file output is written to its temporary, and every device, FIFO
// or socket is opened; a failure so far removes the temporaries and leaves every target as it
// was. Only then do the temporaries replace their targets, and after that the bytes that cannot
// be taken back are written: devices, FIFOs and sockets in the order given, standard output last.
void write_outputs(const std::vector<std::pair<std::string, std::string>>& files);

// The command line's check, before any run (exit 2): throws UsageError (sim/scenario/overrides.hpp) when
// two of the named outputs (option, path) are one file: "-o and --json both name x (see --help)".
// Paths are compared by device and inode when the file exists (so a symlink, a hard link or
// another spelling such as ./x is the same file), else by the absolute path they would be
// created at (through a dangling symlink's chain). Standard output ("-") twice is a clash (the
// outputs would be mixed in one stream). An empty path is an option that was not given and
// writes to standard output by default (-o); leave out options that were not given and write
// nothing. The null device (any node of it) may be named by several outputs: nothing is kept.
void check_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& named);

}  // namespace tcpsim
