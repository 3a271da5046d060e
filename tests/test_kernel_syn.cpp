// The Linux TIME-WAIT rules against the live kernel: tools/kernel/results/syn-at-time-wait.json was
// measured on Linux 6.18 by tcpsim-kernel-syn (crafted SYNs on a server's TIME-WAIT 4-tuple).
// For every case the model must give the kernel's reply: a SYN,ACK whose ISN is old SND.NXT +
// 65537 (and the TIME-WAIT gone), or a bare ACK <SEQ=old SND.NXT><ACK=old RCV.NXT> with the
// TIME-WAIT kept.
#include "fixture.hpp"

#include "host/time_wait.hpp"

#include <nlohmann/json.hpp>

#include <fstream>

using namespace tcpsim;
using namespace tcpsim::host;

TEST_CASE("kernel vs tcpsim: a SYN at a server's TIME-WAIT, six cases (Linux 6.18)", "[kernel-vs-tcpsim][linux]") {
    std::ifstream in(std::string(TCPSIM_SOURCE_DIR) + "/tools/kernel/results/syn-at-time-wait.json");
    REQUIRE(in);
    const nlohmann::json doc = nlohmann::json::parse(in);
    REQUIRE(doc.at("cases").size() == 6);
    for (const auto& c : doc.at("cases")) {
        INFO("case " << c.at("case").get<std::string>() << ": kernel replied " << c.at("reply_kind").get<std::string>());
        TimeWaitSock tw;
        tw.rcv_nxt = c.at("old_rcv_nxt").get<std::uint32_t>();
        tw.snd_nxt = 777777;  // the relative numbers are what the kernel result gives
        tw.rcv_wnd = 65535;
        tw.ts_recent = c.at("ts_recent").get<std::uint32_t>();
        tw.ts_recent_stamp = SimTime::zero() + Duration::s(10);
        tw.entered = tw.ts_recent_stamp;
        tcp::Segment syn;
        syn.flags = tcp::flag::Syn;
        syn.seq = c.at("syn_seq").get<std::uint32_t>();
        if (c.at("tsval_relation").get<std::string>() != "none") {
            syn.has_ts = true;
            syn.tsval = c.at("syn_tsval").get<std::uint32_t>();
        }
        const TwOutcome out = linux_time_wait_input(tw, syn, SimTime::zero() + Duration::s(11), LinuxTimeWaitParams{});
        const std::string kind = c.at("reply_kind").get<std::string>();
        if (kind == "syn-ack") {
            CHECK(out.verdict == TwVerdict::AcceptSyn);
            CHECK(linux_reuse_isn(tw) - tw.snd_nxt == c.at("reply").at("isn_minus_old_snd_nxt").get<std::uint32_t>());
            CHECK(c.at("tuple_state_after").get<std::string>() == "SYN_RECV");
        } else {
            REQUIRE(kind == "ack");
            CHECK(out.verdict == TwVerdict::SendAck);  // the host answers <SEQ=snd_nxt><ACK=rcv_nxt>
            CHECK(c.at("reply").at("seq_minus_old_snd_nxt").get<std::int64_t>() == 0);
            CHECK(c.at("reply").at("ack_minus_old_rcv_nxt").get<std::int64_t>() == 0);
            CHECK(c.at("reply").at("has_timestamp").get<bool>());  // our ACK echoes TS.Recent too
            CHECK(c.at("tuple_state_after").get<std::string>() == "TIME_WAIT");
        }
    }
}
