// The dashboard: one self-contained HTML page (inline CSS and JavaScript, no
// CDN, no build step) served at GET / on the admin listener.
//
// The page fetches /api/v1/summary, /api/v1/jobs, /api/v1/actions and
// /api/v1/deliveries?status=undecodable and refreshes itself every 10 s.
// Browsers cannot send a bearer header when loading a page, so `/` (only)
// also accepts the admin token as `?token=` (routes.cc checks it in constant
// time); the page then keeps the token in sessionStorage, removes it from the
// address bar and sends it as `Authorization: Bearer` on every API call.
// Thread safety: returns a constant.
#pragma once

#include <string_view>

namespace relayq::server {

std::string_view DashboardHtml();

}  // namespace relayq::server
