// The host's segment input, the one path every arriving segment takes (Linux tcp_v4_rcv(),
// FreeBSD tcp_input()): demultiplexing, TIME-WAIT mini-sockets, tw_recycle's timestamp check,
// the accept queue, a child for a SYN to a listener, and the reply of the CLOSED state when no
// socket has the segment. The world and the packetdrill harness both call Host::input(); neither
// repeats any of it (DESIGN.md §2).
//
// It is a template over the runtime around the host (Env), as the endpoint is over its Io, so
// that the common case (a segment for a connection past its handshake) is inlined into the
// event loop. This is the one header outside models/tcp that includes the endpoint's bodies:
// whoever drives endpoints with its own Io type includes this header, not tcp/endpoint_impl.hpp.
//
// Env provides:
//   Env::Io io(SocketId, Socket&)        the endpoint's Io for one call on that socket
//   void reply(std::string_view who, const tcp::Segment&)
//                                        a segment the host sends with no full socket: a
//                                        mini-socket's answer ("(time-wait)"), an RST ("-")
//   void spawned(SocketId child)         a listener's child was made (its timers)
//   tcp::IsnGenerator* isn_source()      the ISN generator of reopened connections
//   void arrived(SocketId, const tcp::Segment&)      before a socket (or no socket) takes it
//   void arrived_time_wait(const tcp::Segment&)      before a mini-socket takes it
//   void dropped(InputDrop, SocketId, const tcp::Segment&)  dropped in silence, and why
//   std::uint64_t sent() const           segments sent so far (to see a SYN a TIME-WAIT ignored)
#pragma once

#include "host/host.hpp"
#include "tcp/endpoint_impl.hpp"

namespace tcpsim::host {

template <class Env>
inline void Host::input(SimTime now, const tcp::Segment& seg, Env& env) {
    const Demux d = demux(seg);
    if (d.kind == Demux::Kind::Connection) [[likely]] {
        // Most segments: a connection that is not a listener, and not a child whose handshake's
        // last ACK meets the accept-queue check below, takes the segment straight away.
        Socket& s = at(d.socket);
        if (!s.is_listener && s.ep.state() != tcp::State::SynReceived) {
            env.arrived(d.socket, seg);
            if (s.ep.state() == tcp::State::TimeWait && seg.syn() && !seg.ack_set()) [[unlikely]] {
                input_syn_to_time_wait(now, d.socket, seg, env);
                return;
            }
            auto io = env.io(d.socket, s);
            s.ep.on_segment(now, io, seg);
            return;
        }
    }
    input_other(now, seg, d, env);
}

// A new SYN meets a TIME-WAIT TCB (a full socket, not a Linux mini-socket): it reopens the
// connection, is answered (an ACK, an RST), or is dropped in silence (FreeBSD tcp_twcheck() for
// a SYN whose SEQ is not above RCV.NXT): the last is told to the Env.
// Out of line, as input_other(): kept out of the event loop, they leave its registers to the
// common case (inlined, the run took 0.13% more instructions: callgrind, bench -w churn --scale 0.05).
template <class Env>
[[gnu::noinline]] void Host::input_syn_to_time_wait(SimTime now, SocketId sock, const tcp::Segment& seg, Env& env) {
    const std::uint64_t sent = env.sent();
    {
        Socket& s = at(sock);
        auto io = env.io(sock, s);
        s.ep.on_segment(now, io, seg);
    }
    const Socket& s = at(sock);  // looked up again: a reopened connection may have made sockets
    if (s.alive && s.ep.state() == tcp::State::TimeWait && env.sent() == sent) env.dropped(InputDrop::TimeWait, sock, seg);
}

template <class Env>
[[gnu::noinline]] void Host::input_other(SimTime now, const tcp::Segment& seg, const Demux& d, Env& env) {
    SocketId sid = d.socket;
    std::optional<tcp::Seq> reopen_iss;  // a SYN that a Linux TIME-WAIT lets through (TW_SYN)
    if (d.kind == Demux::Kind::TimeWait) {
        // tcp_v4_rcv() do_time_wait: the mini-socket answers, or hands the SYN to the listener
        // with an ISN that continues the old sequence space.
        env.arrived_time_wait(seg);
        const TimeWaitResult r = time_wait_segment(now, *d.tw, seg);
        if (r.reply) env.reply("(time-wait)", *r.reply);
        if (r.accept_by == kNoSocket) return;
        sid = r.accept_by;
        reopen_iss = r.accept_isn;
    }
    const bool new_syn = seg.syn() && !seg.ack_set() && !seg.rst();
    // tw_recycle's check is skipped for a SYN that passed a TIME-WAIT (tcp_conn_request(): "isn").
    if (!reopen_iss && sid != kNoSocket && at(sid).is_listener && new_syn && recycle_drops_syn(now, seg)) {
        count_recycle_drop();  // tw_recycle: PAWSPassiveRejected, silently
        env.dropped(InputDrop::TwRecycle, sid, seg);
        return;
    }
    if (sid != kNoSocket) {
        if (const Overflow o = listen_overflow(sid, seg); o != Overflow::None) {
            if (o == Overflow::Reset) {  // tcp_abort_on_overflow: embryonic_reset
                tcp::Segment rst;
                if (tcp::reset_for_closed(seg, rst)) env.reply("-", rst);  // tcp_v4_send_reset()
                Socket& s = at(sid);
                auto io = env.io(sid, s);
                s.ep.discard(now, io, "accept queue full: request dropped (tcp_abort_on_overflow)");
            }
            env.dropped(InputDrop::AcceptQueue, sid, seg);
            return;
        }
    }
    if (sid != kNoSocket && at(sid).is_listener && new_syn) {
        // A SYN for a listener: a child takes it (BSD sonewconn(), Linux request sockets).
        const SocketId child = spawn_child(sid, seg);
        env.spawned(child);
        if (reopen_iss) at(child).ep.set_isn_source(env.isn_source(), reopen_iss);
        sid = child;
    }
    env.arrived(sid, seg);
    if (sid == kNoSocket) {
        // No connection and no listener: the reply of the CLOSED state (RFC 9293 §3.10.7.1).
        tcp::Segment rst;
        if (tcp::reset_for_closed(seg, rst)) env.reply("-", rst);
        return;
    }
    Socket& s = at(sid);
    auto io = env.io(sid, s);
    s.ep.on_segment(now, io, seg);
}

}  // namespace tcpsim::host
