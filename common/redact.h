// URL redaction: audio URLs are often signed links whose query carries the
// token, so relayq writes a URL (in messages, logs and audit output) only as
// scheme://host[:port]/path. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace relayq {

// `url` without its user:password@, query and fragment:
// "https://u:p@cdn.example.com/a.mp3?sig=x#t" -> "https://cdn.example.com/a.mp3".
// Text that is not scheme://... is returned without query and fragment.
std::string RedactUrl(std::string_view url);

// `text` with every http:// or https:// URL in it (up to the next ASCII
// whitespace, quote or '<' '>') redacted as RedactUrl does; the rest is kept.
// For free text that may quote a URL: run titles, error messages.
std::string RedactUrlsIn(std::string_view text);

}  // namespace relayq
