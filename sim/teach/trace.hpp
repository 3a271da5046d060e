// Printers of a run's records (world/trace_record.hpp): a ladder diagram for people, an SVG
// sequence chart, and JSON for tools. They only read the records (DESIGN.md §1).
#pragma once

#include "world/trace_record.hpp"

#include <string>
#include <vector>

namespace tcpsim {

// The ladder diagram: at most 100 columns.
std::string format_ladder(const TraceHeader& h, const std::vector<TraceRecord>& records);
// The ladder as an SVG sequence chart (teach/svg_ladder.cpp): one lifeline per host.
std::string format_ladder_svg(const TraceHeader& h, const std::vector<TraceRecord>& records);
// The same events as JSON (one object with "events": [...]).
std::string format_trace_json(const TraceHeader& h, const std::vector<TraceRecord>& records);

}  // namespace tcpsim
