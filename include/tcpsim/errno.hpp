// The errno values a modelled application sees, spelled and numbered as on Linux
// (include/uapi/asm-generic/errno.h, errno-base.h). Enumerators are PascalCase because the
// <cerrno> names are macros; people see the errno spelling through to_string().
#pragma once

#include <string_view>

namespace tcpsim {

enum class Errno : int {
    Ok = 0,
    Perm = 1,
    NoEnt = 2,
    BadF = 9,
    Again = 11,
    Inval = 22,
    Pipe = 32,
    NotSock = 88,
    OpNotSupp = 95,
    AddrInUse = 98,
    AddrNotAvail = 99,
    NetUnreach = 101,
    ConnAborted = 103,
    ConnReset = 104,
    IsConn = 106,
    NotConn = 107,
    TimedOut = 110,
    ConnRefused = 111,
    Already = 114,
    InProgress = 115,
};

constexpr std::string_view to_string(Errno e) {
    switch (e) {
        case Errno::Ok: return "OK";
        case Errno::Perm: return "EPERM";
        case Errno::NoEnt: return "ENOENT";
        case Errno::BadF: return "EBADF";
        case Errno::Again: return "EAGAIN";
        case Errno::Inval: return "EINVAL";
        case Errno::Pipe: return "EPIPE";
        case Errno::NotSock: return "ENOTSOCK";
        case Errno::OpNotSupp: return "EOPNOTSUPP";
        case Errno::AddrInUse: return "EADDRINUSE";
        case Errno::AddrNotAvail: return "EADDRNOTAVAIL";
        case Errno::NetUnreach: return "ENETUNREACH";
        case Errno::ConnAborted: return "ECONNABORTED";
        case Errno::ConnReset: return "ECONNRESET";
        case Errno::IsConn: return "EISCONN";
        case Errno::NotConn: return "ENOTCONN";
        case Errno::TimedOut: return "ETIMEDOUT";
        case Errno::ConnRefused: return "ECONNREFUSED";
        case Errno::Already: return "EALREADY";
        case Errno::InProgress: return "EINPROGRESS";
    }
    return "E?";
}

}  // namespace tcpsim
