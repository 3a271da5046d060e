#include "host/time_wait.hpp"

namespace tcpsim::host {

namespace {
using tcp::seq_diff;

// Linux tcp_in_window(): the segment [seq, end) touches [s_win, e_win].
bool in_window(tcp::Seq seq, tcp::Seq end, tcp::Seq s_win, tcp::Seq e_win) {
    if (seq == s_win) return true;
    if (tcp::seq_gt(end, s_win) && tcp::seq_lt(seq, e_win)) return true;
    return seq == e_win && seq == end;
}

// tcp_oow_rate_limited(): segments with data (and no SYN) are never limited; SYNs and empty
// segments get at most one answer per tcp_invalid_ratelimit.
// LVL_START(n) of kernel/time/timer.c: the first delta that goes to level n (n >= 1).
std::int64_t level_start(int n) { return 63LL << (3 * (n - 1)); }
// calc_wheel_index(): the level of a timer `delta` jiffies ahead (LVL_DEPTH 9 when HZ > 100).
int wheel_level(std::int64_t delta) {
    int level = 0;
    while (level < 8 && delta >= level_start(level + 1)) ++level;
    return level;
}

bool rate_limited(TimeWaitSock& tw, const tcp::Segment& seg, SimTime now, Duration limit) {
    const bool has_data = seg.len + (seg.fin() ? 1u : 0u) > 0;
    if (has_data && !seg.syn()) return false;
    if (!tw.last_oow_ack.is_never() && now - tw.last_oow_ack < limit) return true;
    tw.last_oow_ack = now;
    return false;
}
}  // namespace

TwOutcome linux_time_wait_input(TimeWaitSock& tw, const tcp::Segment& seg, SimTime now, const LinuxTimeWaitParams& p) {
    TwOutcome out;
    const tcp::Seq seq = seg.seq;
    const tcp::Seq end = seg.seq + seg.seg_len();
    // tcp_paws_reject(): a timestamp older than ts_recent; an RST is exempt once ts_recent is
    // older than TCP_PAWS_MSL (60 s).
    bool paws_reject = false;
    if (p.timestamps && !tw.ts_recent_stamp.is_never() && seg.has_ts && tw.ts_recent != 0 &&
        seq_diff(tw.ts_recent, seg.tsval) > 0)
        paws_reject = !(seg.rst() && now - tw.ts_recent_stamp >= Duration::s(60));

    if (tw.fin_wait2) {
        if (paws_reject || !in_window(seq, end, tw.rcv_nxt, tw.rcv_nxt + tw.rcv_wnd)) {
            out.verdict = rate_limited(tw, seg, now, p.ack_ratelimit) ? TwVerdict::Drop : TwVerdict::SendAck;
            return out;
        }
        if (seg.rst()) {
            out.verdict = TwVerdict::Kill;  // tcp_rfc1337 is not consulted here
            return out;
        }
        if (seg.syn() && tcp::seq_ge(seq, tw.rcv_nxt)) {
            out.verdict = TwVerdict::SendRst;
            return out;
        }
        if (!seg.ack_set() || !tcp::seq_gt(end, tw.rcv_nxt) || end == seq) return out;  // duplicate ACK
        if (!seg.fin() || end != tw.rcv_nxt + 1) {  // new data after the half-close: reset
            out.verdict = TwVerdict::SendRst;
            return out;
        }
        tw.fin_wait2 = false;  // FIN: a true TIME-WAIT now, with a fresh 60 s
        tw.rcv_nxt = end;
        if (seg.has_ts) {
            tw.ts_recent = seg.tsval;
            tw.ts_recent_stamp = now;
        }
        out.verdict = TwVerdict::BecomeTimeWait;
        out.restart_timer = true;
        return out;
    }

    // Real TIME-WAIT: an in-window empty segment or RST at exactly RCV.NXT.
    if (!paws_reject && seq == tw.rcv_nxt && (seq == end || seg.rst())) {
        if (seg.rst()) {
            if (!p.rfc1337) {
                out.verdict = TwVerdict::Kill;  // TIME-WAIT assassination (RFC 1337 hazard H3)
                return out;
            }
        } else {
            out.restart_timer = true;
        }
        if (seg.has_ts) {
            tw.ts_recent = seg.tsval;
            tw.ts_recent_stamp = now;
        }
        return out;
    }
    // A SYN that is newer by sequence number or by timestamp opens a new connection (TW_SYN).
    if (seg.syn() && !seg.rst() && !seg.ack_set() && !paws_reject &&
        (tcp::seq_gt(seq, tw.rcv_nxt) || (seg.has_ts && p.timestamps && !tw.ts_recent_stamp.is_never() &&
                                          seq_diff(tw.ts_recent, seg.tsval) < 0))) {
        out.verdict = TwVerdict::AcceptSyn;
        return out;
    }
    if (!seg.rst()) {
        // An ACK-less SYN that fails the tests does not restart the timer (it may be a new SYN
        // with a random ISN below RCV.NXT); a PAWS reject or anything with ACK does.
        out.restart_timer = paws_reject || seg.ack_set();
        out.verdict = rate_limited(tw, seg, now, p.ack_ratelimit) ? TwVerdict::Drop : TwVerdict::SendAck;
        return out;
    }
    return out;
}

bool linux_twsk_unique(const TimeWaitSock& tw, SimTime now, int tw_reuse, Duration tw_reuse_delay, bool explicit_port,
                       bool seconds_clock) {
    int reuse = tw_reuse;
    if (tw.fin_wait2) reuse = 0;                 // 6.12+ (0d9e5df4a257): never a FIN-WAIT-2 minisock
    if (reuse == 2 && !tw.loopback) reuse = 0;   // loopback only
    if (tw.ts_recent_stamp.is_never()) return false;  // timestamps were never received
    if (explicit_port) return true;              // bind() before connect(): no sysctl, no delay
    if (reuse == 0) return false;
    // Before 6.14: ktime_get_seconds() > tw_ts_recent_stamp (seconds).
    if (seconds_clock) return now.ns() / 1'000'000'000 > tw.ts_recent_stamp.ns() / 1'000'000'000;
    // 6.14+: tcp_clock_ms() > tw_entry_stamp + tcp_tw_reuse_delay ("time_after32": strictly).
    return (now - tw.entered).whole_ms() > tw_reuse_delay.whole_ms();
}

tcp::Seq linux_reuse_isn(const TimeWaitSock& tw) {
    tcp::Seq isn = tw.snd_nxt + 65535 + 2;
    return isn == 0 ? 1 : isn;
}

SimTime linux_timer_fires(SimTime armed_at, Duration timeout, std::int64_t hz, Duration boot_offset) {
    // Jiffies count from a boot a little before the run (boot_offset). msecs_to_jiffies() rounds
    // the timeout up; a timer of delta jiffies goes to wheel level L when delta < 63 * 8^L
    // (LVL_START), and calc_index() puts it in the bucket after its expiry at that level's
    // granularity 8^L: bucket_expiry = ((expires >> 3L) + 1) << 3L. It never fires early.
    const std::int64_t ns_per_jiffy = 1'000'000'000 / hz;
    const std::int64_t now_j = (armed_at.ns() + boot_offset.count()) / ns_per_jiffy;
    const std::int64_t delta = (timeout.count() + ns_per_jiffy - 1) / ns_per_jiffy;
    const std::int64_t expires = now_j + delta;
    const int shift = 3 * wheel_level(delta);
    const std::int64_t fire_j = ((expires >> shift) + 1) << shift;
    return SimTime::from_ns(fire_j * ns_per_jiffy - boot_offset.count());
}

Duration linux_timer_granularity(Duration timeout, std::int64_t hz) {
    const std::int64_t ns_per_jiffy = 1'000'000'000 / hz;
    const std::int64_t delta = (timeout.count() + ns_per_jiffy - 1) / ns_per_jiffy;
    return Duration::ns((std::int64_t{1} << (3 * wheel_level(delta))) * ns_per_jiffy);  // LVL_GRAN(level)
}

}  // namespace tcpsim::host
