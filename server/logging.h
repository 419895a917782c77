// The daemon's log output: spdlog to stderr, installed as the process's log
// sink (common/log.h), which every library logs through.
//
// Two formats: text (human: "2026-11-24T09:30:00.123Z info delivery id=..
// event=..") and json (one object per line, for log shippers). When stderr
// is the systemd journal ($JOURNAL_STREAM matches it), each line starts with
// its sd-daemon priority ("<6>info delivery ..", "<4>{...}") and text lines
// carry no timestamp of their own: journald stores the priority and the time. Callers pass
// fields, never preformatted secrets: nothing here knows which values are
// secret, so secrets must simply never be passed. Thread-safe.
#pragma once

#include <string>

#include "common/log.h"

namespace relayq::server {

// Configures the process-wide logger and installs it as the log sink.
// `format` is "text" or "json"; `level` is debug, info, warn or error. Call
// once, before other threads log.
void SetupLogging(const std::string& format, const std::string& level);

}  // namespace relayq::server
