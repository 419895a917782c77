#include "server/http.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "common/strings.h"
#include "policy/policy.h"

namespace relayq::server {
namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Whether `path` fits `pattern`; the `{name}` segments' values are appended
// to `params` when it does.
bool PathMatches(std::string_view pattern, std::string_view path,
                 std::vector<std::string>* params) {
  if (pattern.find('{') == std::string_view::npos) return pattern == path;
  auto want = Segments(pattern), got = Segments(path);
  if (want.size() != got.size()) return false;
  std::vector<std::string> values;
  for (size_t i = 0; i < want.size(); ++i) {
    if (IsParam(want[i])) {
      if (got[i].empty()) return false;
      values.emplace_back(got[i]);
    } else if (want[i] != got[i]) {
      return false;
    }
  }
  if (params) *params = std::move(values);
  return true;
}

bool MethodServes(const std::string& route_method, const std::string& method) {
  return route_method == method || (route_method == "GET" && method == "HEAD");
}

AsyncHandler FromSync(SyncHandler handler) {
  return [handler = std::move(handler)](HttpRequest&& request, Respond respond) {
    respond(handler(request));
  };
}

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (policy::EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

bool HttpRequest::HasHeader(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& kv) { return policy::EqualsIgnoreCase(kv.first, name); });
}

std::optional<std::string> HttpRequest::Param(std::string_view key) const {
  for (const auto& [k, v] : query) {
    if (k == key) return v;
  }
  return std::nullopt;
}

size_t HttpRequest::ParamCount(std::string_view key) const {
  return static_cast<size_t>(
      std::count_if(query.begin(), query.end(), [&](const auto& kv) { return kv.first == key; }));
}

HttpResponse HttpResponse::Error(int status, std::string_view why) {
  return Json(status, ErrorJson(why));
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

void Router::Add(Route route) { routes_.push_back(std::move(route)); }

void Router::AddSync(std::string method, std::string pattern, SyncHandler handler,
                     Route::Runs runs) {
  Route r;
  r.method = std::move(method);
  r.pattern = std::move(pattern);
  r.runs = runs;
  r.handler = FromSync(std::move(handler));
  Add(std::move(r));
}

void Router::Get(std::string pattern, SyncHandler handler, Route::Runs runs) {
  AddSync("GET", std::move(pattern), std::move(handler), runs);
}

void Router::Post(std::string pattern, SyncHandler handler, Route::Runs runs) {
  AddSync("POST", std::move(pattern), std::move(handler), runs);
}

void Router::SetHeaderCheck(HeaderCheck check, std::vector<std::string> exempt) {
  check_ = std::move(check);
  exempt_ = std::move(exempt);
}

Router::Match Router::Find(HttpRequest& request) const {
  Match m;
  const bool exempt = std::find(exempt_.begin(), exempt_.end(), request.path) != exempt_.end();
  if (check_ && !exempt) {
    if (auto refused = check_(request)) {
      m.answer = std::move(refused);
      return m;
    }
  }
  std::string allow;
  for (const Route& r : routes_) {
    std::vector<std::string> params;
    if (!PathMatches(r.pattern, request.path, &params)) continue;
    if (MethodServes(r.method, request.method)) {
      request.path_params = std::move(params);
      if (r.header_check) m.answer = r.header_check(request);
      if (!m.answer) m.route = &r;
      return m;
    }
    if (allow.find(r.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + r.method;
  }
  if (allow.empty()) {
    m.answer = HttpResponse::Error(404, "no such route");
  } else {
    m.answer = HttpResponse::Error(405, "use " + allow + " for " + request.path.substr(0, 256));
    m.answer->headers.emplace_back("Allow", allow);
  }
  return m;
}

}  // namespace relayq::server
