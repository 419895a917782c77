// The size of a file behind an http(s) URL, learned by `relayq dispatch` with
// one HEAD request so that a route's max_size_mb can apply (relayq learns an
// input's size only from a size_mb/size_bytes dispatch input).
//
// Only the CLI on the user's machine (the trigger host) calls this, for a URL
// the user typed; the daemon never fetches a URL from a payload or an input
// (docs/SECURITY.md). Thread safety: stateless; calls are independent.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace relayq::cli {

// The Content-Length of a HEAD of `url` (redirects followed, at most 5; 5 s to
// connect, 10 s to answer). Fails with InvalidArgument for a URL that is not
// http(s), Unavailable when the host cannot be reached, and NotFound when the
// answer is not a 2xx or carries no usable Content-Length. Messages name the
// URL only as scheme://host/path.
Result<int64_t> ProbeContentLength(const std::string& url);

// `bytes` as a size_mb input value (MiB, rounded up to two decimals so the
// size is never under-stated): 3145728 -> "3.00", 1 -> "0.01".
std::string SizeMbInput(int64_t bytes);

}  // namespace relayq::cli
