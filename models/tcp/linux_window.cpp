#include "tcp/linux_window.hpp"

#include <algorithm>
#include <bit>

namespace tcpsim::tcp {

namespace {
constexpr int kMaxWscale = 14;  // TCP_MAX_WSCALE (RFC 7323 §2.3)
}  // namespace

LinuxInitialWindow linux_initial_window(const TcpConfig& cfg, std::uint32_t mss, bool wscale_ok) {
    // tcp_select_initial_window() with no window clamp set (U16_MAX << TCP_MAX_WSCALE) and no
    // initial receive window from the route (init_rcv_wnd 0).
    LinuxInitialWindow w;
    std::uint32_t space = linux_full_space(cfg);
    if (mss > 0 && space > mss) space = space / mss * mss;  // "Quantize space offering to a multiple of mss"
    w.rcv_wnd = std::min<std::uint32_t>(space, 65535);     // min_t(u32, space, U16_MAX)
    if (wscale_ok) {
        // "Set window scaling on max possible window"
        std::uint32_t big = std::max({space, cfg.rmem_max, cfg.core_rmem_max});
        big = std::min<std::uint32_t>(big, 65535u << kMaxWscale);
        const int shift = static_cast<int>(std::bit_width(big)) - 1 - 15;  // ilog2(space) - 15
        w.wscale = static_cast<std::uint8_t>(std::clamp(shift, 0, kMaxWscale));
    }
    return w;
}

LinuxWindowChoice linux_select_window(const LinuxWindowState& s) {
    // tcp_receive_window(): what is left of the window last offered.
    const std::int32_t left = seq_diff(s.rcv_wup + s.adv_wnd, s.rcv_nxt);
    const std::uint32_t cur = left > 0 ? static_cast<std::uint32_t>(left) : 0;
    const std::uint32_t unit = 1u << s.wscale;
    // __tcp_select_window().
    std::uint32_t win = 0;
    if (!s.queue_busy) {
        const std::uint32_t free_space = std::min(s.free_space, s.rcv_ssthresh);
        if (s.wscale > 0) {
            win = (free_space + unit - 1) / unit * unit;
        } else {
            win = s.adv_wnd;
            if (win + s.rcv_mss <= free_space || win > free_space)
                win = s.rcv_mss > 0 ? free_space / s.rcv_mss * s.rcv_mss : free_space;
        }
    }
    // tcp_select_window(): "Never shrink the offered window".
    if (win < cur) win = (cur + unit - 1) / unit * unit;
    LinuxWindowChoice c;
    c.adv_wnd = win;
    c.field = std::min<std::uint32_t>(win, 65535u << s.wscale) >> s.wscale;
    return c;
}

}  // namespace tcpsim::tcp
