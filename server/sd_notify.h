// systemd integration without libsystemd: the sd_notify datagram protocol
// (state lines such as "READY=1" sent to the unix datagram socket named by
// $NOTIFY_SOCKET) and the check whether stderr is connected to the journal
// ($JOURNAL_STREAM names stderr's device and inode).
//
// Thread safety: both functions read the environment and may be called from
// any thread; NotifySystemd opens a socket of its own per call.
#pragma once

#include <string_view>

namespace relayq::server {

// Sends `state` (e.g. "READY=1", "STOPPING=1") to $NOTIFY_SOCKET: a path, or
// an abstract-namespace name written with a leading '@'. Returns true when
// sent; false when NOTIFY_SOCKET is unset (not run by systemd with
// Type=notify) or the datagram could not be sent, which never stops relayq.
bool NotifySystemd(std::string_view state);

// True when stderr is the systemd journal: $JOURNAL_STREAM ("DEV:INODE")
// matches stderr's device and inode.
bool StderrIsJournal();

}  // namespace relayq::server
