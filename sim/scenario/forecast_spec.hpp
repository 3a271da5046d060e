// The forecast part of a scenario file (docs/scenario-format.md): servers,
// clients, proxies, NATs, balancers, the service objectives and the "do" actions of what-ifs,
// read into the Scenario with errors that name the file and the JSON pointer.
#pragma once

#include "scenario/json_reader.hpp"
#include "scenario/scenario.hpp"

namespace tcpsim {

// The forecast sections: servers, clients, proxies, nats, balancers, stop, report_interval.
void read_forecast(const Reader& r, const json& doc, Scenario& sc);
// "slo": the service objectives (docs/scenario-format.md).
void read_slo(const Reader& r, const json& so, SloSpec& slo);
// An action with "do" (sysctl, restart_server, nat_add_address, nat_remove_address, stop_host).
void read_what_if(const Reader& r, const json& a, const std::string& p, Scenario& sc);
// Checks of the "do" actions that need them in time order (NAT pools as addresses come and go).
void check_what_if(const Reader& r, const Scenario& sc);

}  // namespace tcpsim
