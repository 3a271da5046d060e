#include "tcp/transitions.hpp"

namespace tcpsim::tcp {

std::string_view to_string(Trigger t) {
    switch (t) {
        case Trigger::PassiveOpen: return "passive OPEN";
        case Trigger::ActiveOpen: return "active OPEN";
        case Trigger::Send: return "SEND";
        case Trigger::Close: return "CLOSE";
        case Trigger::Abort: return "ABORT";
        case Trigger::RcvSyn: return "rcv SYN";
        case Trigger::RcvSynAck: return "rcv SYN,ACK";
        case Trigger::RcvAck: return "rcv ACK";
        case Trigger::RcvFin: return "rcv FIN";
        case Trigger::RcvFinAck: return "rcv FIN,ACK of FIN";
        case Trigger::RcvRst: return "rcv RST";
        case Trigger::RcvSynReset: return "rcv SYN in window";
        case Trigger::Timeout2Msl: return "timeout 2MSL";
        case Trigger::FinWait2Timeout: return "FIN-WAIT-2 timeout";
        case Trigger::RetransmitLimit: return "retransmissions exhausted";
        case Trigger::SynInTimeWait: return "rcv acceptable SYN";
        case Trigger::RcvDataAfterClose: return "rcv data after close";
    }
    return "?";
}

}  // namespace tcpsim::tcp
