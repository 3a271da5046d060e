#include "cli/progress.hpp"

#include "forecast/run_size.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstdio>

namespace tcpsim {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_signal(int) { g_interrupted = 1; }

}  // namespace

void install_interrupt_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

bool interrupt_requested() { return g_interrupted != 0; }

RunProgress::RunProgress(std::string label, Duration span, bool enabled)
    : label_(std::move(label)), span_(span), on_(enabled), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void RunProgress::tick(SimTime now, std::uint64_t connections) {
    if (g_interrupted) {
        finish();
        throw Interrupted();
    }
    if (!on_) return;
    const auto t = std::chrono::steady_clock::now();
    if (drawn_ && t - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = t;
    drawn_ = true;
    const double elapsed = std::chrono::duration<double>(t - start_).count();
    const double done = span_.count() > 0 ? std::min(1.0, static_cast<double>(now.ns()) / static_cast<double>(span_.count())) : 1.0;
    // The wall time left at the rate so far (simulated time per wall second).
    const std::string left = now.ns() > 0 && elapsed > 0.5 ? format_wall(elapsed * (1 - done) / std::max(done, 1e-18)) + " left"
                                                            : "estimating";
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(done * kWidth);
    std::fprintf(stderr, "\r%s [%s%s] %5.1f%%  sim %.1f/%.0f s  %llu connections  %s   ", label_.c_str(),
                 std::string(static_cast<std::size_t>(filled), '=').c_str(),
                 std::string(static_cast<std::size_t>(kWidth - filled), ' ').c_str(), done * 100,
                 static_cast<double>(now.ns()) / 1e9, static_cast<double>(span_.count()) / 1e9,
                 static_cast<unsigned long long>(connections), left.c_str());
    std::fflush(stderr);
}

void RunProgress::finish() {
    if (!on_ || !drawn_) return;
    std::fprintf(stderr, "\r%s\r", std::string(110, ' ').c_str());
    std::fflush(stderr);
    drawn_ = false;
}

}  // namespace tcpsim
