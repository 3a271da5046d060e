// The forecast as one self-contained web page (issue #24): the answer and its "why" first, then
// charts over simulated time drawn by Chart.js (Debian libjs-chart.js, embedded into the binary
// at build time and inlined into the page: no network, no file beside it). No wall clock: the
// same run gives the same bytes.
#pragma once

#include "forecast/forecast.hpp"

#include <string>

namespace tcpsim {

// Chart.js's text (generated from the Debian package by cmake/embed_chartjs.cmake).
const std::string& chartjs_source();

// run --html: the text report's answer, the CSV's per-interval series as charts (states per host,
// ports in use against the pool with the first failure marked, requests and failures per
// interval, latency and objective columns when the CSV has them, each NAT's ports), and the
// whole text report at the end.
std::string html_report_run(const Scenario& sc, const ForecastRun& fr);

// sweep, merge, capacity and remedies --html: the tool's text table first (remedies: with each
// remedy's hazard), then charts of its CSV rows: a sweep's swept value against the offered and
// sustained rates and the ceiling, and its failures; capacity's probes (rate, passed or failed);
// each remedy's sustained rate and failures. `tool` is "sweep", "capacity" or "remedies".
std::string html_report_table(const std::string& tool, const std::string& title, const std::string& text, const std::string& csv);

}  // namespace tcpsim
