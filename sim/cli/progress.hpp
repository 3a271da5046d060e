// Progress of one long simulation on stderr (issue #27): simulated time against the run's
// duration, the connections done, and the wall time left, estimated from the rate so far. It
// reads the wall clock only to draw; nothing it does reaches the simulation or its outputs.
// Ctrl-C (SIGINT, SIGTERM, SIGHUP) sets a flag that the next progress check turns into
// Interrupted, so a run stops between events and writes no output.
#pragma once

#include <tcpsim/time.hpp>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace tcpsim {

class Interrupted : public std::runtime_error {
public:
    Interrupted() : std::runtime_error("interrupted: no output was written") {}
};

// Installs the handlers (once per process). `interrupt_requested()` is then true after a signal.
// Outputs are written after the simulation: a signal that comes while they are written only sets
// the flag, so they are written whole (and atomically) and the program ends as it would have.
void install_interrupt_handlers();
bool interrupt_requested();

class RunProgress {
public:
    // `label` ("run"), the simulated span; drawn only when `enabled`.
    RunProgress(std::string label, Duration span, bool enabled);
    // Called every few thousand events: throws Interrupted after a signal; redraws at most five
    // times a second.
    void tick(SimTime now, std::uint64_t connections);
    // Clears the bar.
    void finish();

private:
    std::string label_;
    Duration span_;
    bool on_;
    std::chrono::steady_clock::time_point start_, last_draw_;
    bool drawn_ = false;
};

}  // namespace tcpsim
