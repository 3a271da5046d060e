// Plain-text layout shared by the reports: sentences wrapped at 100 columns, aligned tables, CSV
// cells.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace tcpsim {

// Wraps a sentence at 100 columns; the first line is indented by `indent`, the others by
// `hanging` (by default the same).
std::string wrap(const std::string& text, std::size_t indent, std::size_t hanging);
inline std::string wrap(const std::string& text, std::size_t indent) { return wrap(text, indent, indent); }

// Columns as wide as their widest cell, separated by one space after a two-space margin; the
// columns in `right` are right-aligned; trailing blanks are cut.
std::string format_table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& body,
                         const std::set<std::size_t>& right);

// A CSV cell (RFC 4180): quoted when it holds a comma, a quote or a newline.
std::string csv_cell(const std::string& s);

}  // namespace tcpsim
