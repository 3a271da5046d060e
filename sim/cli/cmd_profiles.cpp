// tcpsim profiles: the OS profiles with their key values; `profiles show NAME` prints one.
#include "cli/command.hpp"
#include "cli/output.hpp"
#include "scenario/profiles.hpp"
#include "scenario/profiles_data.hpp"

#include <fmt/format.h>

namespace tcpsim::cli {
namespace {

const char* port_algorithm(host::ConnectPortAlgo a) {
    switch (a) {
        case host::ConnectPortAlgo::LinuxDoubleHash: return "RFC6056 alg 4";
        case host::ConnectPortAlgo::LinuxHash: return "RFC6056 alg 3";
        case host::ConnectPortAlgo::Sequential: return "in order/host";
        case host::ConnectPortAlgo::RandomStart: return "RFC6056 alg 1";
    }
    return "?";
}

// What a profile does to an RST and to a new SYN in TIME-WAIT, in a few words.
std::pair<std::string, std::string> time_wait_input(const host::Profile& p) {
    if (p.stack.linux_minisock) return {p.stack.linux_tw.rfc1337 ? "ignored" : "kills at NXT", "SEQ or TSval newer, else ACK"};
    if (p.tcp.time_wait_input == tcp::TimeWaitInput::FreeBsd) return {"ignored", "SEQ > RCV.NXT, else silence"};
    if (p.tcp.time_wait_input == tcp::TimeWaitInput::Xnu) return {"ignored at NXT", "SEQ > RCV.NXT+WND, else ACK"};
    return {p.tcp.rst_in_time_wait == tcp::RstInTimeWait::Ignore ? "ignored" : "kills at NXT",
            p.tcp.syn_in_time_wait == tcp::SynInTimeWait::Never ? "never (ACK/RST)" : "RFC 6191 timestamps"};
}

std::string profiles_table() {
    std::string out = fmt::format("{:<15} {:>10} {:<12} {:<16} {:<9} {:<14} {}\n", "profile", "TIME-WAIT", "ports",
                                  "connect ports", "tw_reuse", "RST in TW", "SYN in TIME-WAIT");
    for (const std::string& n : profile_names()) {
        const host::Profile p = load_profile(n);
        const Duration tw = p.stack.linux_minisock ? p.stack.linux_tw.length : p.tcp.time_wait_length();
        const std::string reuse = p.stack.linux_minisock ? std::to_string(p.stack.tw_reuse) : "-";
        const auto [rst, syn] = time_wait_input(p);
        out += fmt::format("{:<15} {:>9}s {:<12} {:<16} {:<9} {:<14} {}\n", n, tw.count() / 1'000'000'000,
                           fmt::format("{}-{}", p.stack.ports.lo, p.stack.ports.hi), port_algorithm(p.stack.ports.connect_algo),
                           reuse, rst, syn);
    }
    return out;
}

class ProfilesCommand final : public Command {
public:
    explicit ProfilesCommand(CLI::App& app) : c_(app.add_subcommand("profiles", "List the OS profiles with their key values")) {
        show_ = c_->add_subcommand("show", "Print one profile (its data file)");
        show_->add_option("name", name_, "Profile name")->required();
    }
    [[nodiscard]] CLI::App* app() const override { return c_; }
    [[nodiscard]] const Outputs& outputs() const override { return o_; }

    int execute() override {
        if (!*show_) {
            write_output(o_.out, profiles_table());
            return 0;
        }
        load_profile(name_);  // validates, and names the known ones on a typo
        std::string text;
        for (const auto& e : embedded_profiles())
            if (e.name == name_) text = std::string(e.text);
        write_output(o_.out, text);
        return 0;
    }

private:
    CLI::App* c_;
    CLI::App* show_;
    std::string name_;
    Outputs o_;
};

}  // namespace

std::unique_ptr<Command> make_profiles(CLI::App& app) { return std::make_unique<ProfilesCommand>(app); }

}  // namespace tcpsim::cli
