// The Beast implementation of server/http_server.h. Beast and Asio stay in
// this file: nothing else in relayq includes them.
//
// One Session per connection, on a strand of the server's io_context:
//
//   [TLS handshake] -> read header (own loop: line/size limits checked on
//   every read) -> route + header checks -> [100 Continue] -> read body
//   (Beast, into a BodyBuffer charged to the memory budget) -> handler ->
//   write answer -> next request on the same connection, or close.
//
// Deadlines are the tcp_stream's expiry, set to an absolute time per phase,
// so every async operation of that phase shares one total deadline. They use
// Asio's steady clock (the I/O loop's own monotonic time): they guard the
// process against strangers and are not part of anything relayq records.
#include "server/http_server.h"

#include <sys/resource.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <fstream>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "github/http_util.h"

namespace relayq::server {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

// Bytes of request bodies being read, across all connections.
class MemoryBudget {
 public:
  explicit MemoryBudget(size_t limit) : limit_(limit) {}
  bool Take(size_t n) {
    size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (n > limit_ - std::min(used, limit_)) return false;
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return true;
  }
  void Give(size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
};

// A request body that grows only as bytes arrive (Beast's string_body
// reserves the whole Content-Length up front) and charges every byte to the
// server's MemoryBudget until it is destroyed or released.
struct BudgetedBody {
  class value_type {
   public:
    value_type() = default;
    value_type(const value_type&) = delete;
    value_type& operator=(const value_type&) = delete;
    value_type(value_type&& o) noexcept
        : data(std::move(o.data)), budget(o.budget), charged(std::exchange(o.charged, 0)) {}
    value_type& operator=(value_type&& o) noexcept {
      Release();
      data = std::move(o.data);
      budget = o.budget;
      charged = std::exchange(o.charged, 0);
      return *this;
    }
    ~value_type() { Release(); }
    void Release() {
      if (budget != nullptr && charged > 0) budget->Give(charged);
      charged = 0;
    }

    std::string data;
    MemoryBudget* budget = nullptr;
    size_t charged = 0;
  };

  static std::uint64_t size(const value_type& v) { return v.data.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      // Reserve only what a real delivery needs; the rest grows as it comes.
      if (length) body_.data.reserve(std::min<std::uint64_t>(*length, 64u << 10));
      ec = {};
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      const size_t n = beast::buffer_bytes(buffers);
      if (body_.budget != nullptr) {
        if (!body_.budget->Take(n)) {
          ec = beast::error_code(ENOBUFS, beast::system_category());
          return 0;
        }
        body_.charged += n;
      }
      for (auto b : beast::buffers_range_ref(buffers)) {
        body_.data.append(static_cast<const char*>(b.data()), b.size());
      }
      ec = {};
      return n;
    }

    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

using RequestParser = http::request_parser<BudgetedBody>;

// What a request line may hold beyond its target ("OPTIONS ", " HTTP/1.1\r").
constexpr size_t kLineSlack = 32;

// Splits the target into path and decoded query. False when it is not an
// origin-form target ("/path?query").
bool SplitTarget(std::string_view target, HttpRequest& r) {
  if (target.empty() || target.front() != '/') return false;
  size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q == std::string_view::npos) return true;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      r.query.emplace_back(github::PercentDecode(pair.substr(0, eq)),
                           eq == std::string_view::npos
                               ? std::string()
                               : github::PercentDecode(pair.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return true;
}

// The part of a Session the server's waiting list knows: a connection that
// has not yet sent a complete request header (handshaking, idle between
// requests, or trickling a header) can be evicted to make room.
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  // Closes the connection, from any thread.
  virtual void Evict() = 0;

  // Guarded by Shared::waiting_mu (another object's mutex, which the
  // annotations cannot name here).
  bool waiting = false;
  std::list<std::weak_ptr<SessionBase>>::iterator waiting_at;  // valid while `waiting`
};

// What every session of one server shares. Lives as long as the server.
struct Shared {
  HttpServerOptions options;
  Router router;
  size_t largest_body = 0;  // the largest route limit: the parser's own cap
  MemoryBudget budget;
  net::thread_pool* workers = nullptr;

  std::atomic<uint64_t> open{0}, accepted{0}, refused{0}, timeouts{0}, requests{0};
  std::atomic<uint64_t> in_flight{0};  // requests handed to a route, not yet answered
  std::atomic<bool> stopping{false};
  std::mutex idle_mu;
  std::condition_variable idle_cv;  // signalled when in_flight drops to 0

  // Connections without a complete request header, oldest first: when the
  // listener is full, the oldest of them is closed to admit a new one.
  Mutex waiting_mu;
  std::list<std::weak_ptr<SessionBase>> waiting GUARDED_BY(waiting_mu);

  Counter* refused_counter = nullptr;
  Counter* evicted_counter = nullptr;
  Counter* timeout_counter = nullptr;
  std::vector<std::pair<int, Counter*>> rejected;  // by status, pre-registered

  Shared(HttpServerOptions o, Router r)
      : options(std::move(o)), router(std::move(r)), budget(options.memory_budget_bytes) {}

  void CountRejected(int status) {
    for (auto& [code, counter] : rejected) {
      if (code == status) counter->Increment();
    }
  }
  void StartWaiting(SessionBase& s) {
    MutexLock lock(waiting_mu);
    if (s.waiting) waiting.erase(s.waiting_at);
    s.waiting_at = waiting.insert(waiting.end(), s.weak_from_this());
    s.waiting = true;
  }
  void StopWaiting(SessionBase& s) {
    MutexLock lock(waiting_mu);
    if (!s.waiting) return;
    waiting.erase(s.waiting_at);
    s.waiting = false;
  }
  // Closes the connection that has waited longest for its request header;
  // false when every open connection is past its header.
  bool EvictOldestWaiting() {
    std::shared_ptr<SessionBase> victim;
    {
      MutexLock lock(waiting_mu);
      while (!waiting.empty() && !victim) {
        victim = waiting.front().lock();
        if (victim) victim->waiting = false;
        waiting.pop_front();
      }
    }
    if (!victim) return false;
    victim->Evict();
    return true;
  }

  void RequestDone() {
    if (in_flight.fetch_sub(1) == 1) {
      std::lock_guard lock(idle_mu);
      idle_cv.notify_all();
    }
  }
};

template <class Stream>
class Session final : public SessionBase {
 public:
  template <class... Args>
  Session(Shared& shared, SteadyTime accepted_at, Args&&... stream_args)
      : shared_(shared), stream_(std::forward<Args>(stream_args)...), deadline_(accepted_at) {
    buffer_.max_size(shared_.options.max_header_bytes + (16u << 10));
  }
  ~Session() override {
    shared_.StopWaiting(*this);
    shared_.open.fetch_sub(1);
  }

  void Evict() override {
    net::post(stream_.get_executor(), [self = Self()] { self->Close(); });
  }

  void Run() {
    shared_.StartWaiting(*this);
    deadline_ += shared_.options.header_timeout;
    Lowest().expires_at(deadline_);
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server, [self = Self()](beast::error_code ec) {
        if (ec) return self->Fail(ec);
        self->ReadHeader();
      });
    } else {
      ReadHeader();
    }
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  std::string_view Buffered() const {
    auto d = buffer_.data();
    return {static_cast<const char*>(d.data()), d.size()};
  }

  // Between requests on a kept-alive connection: wait for the next one's
  // first byte, at most keep_alive_timeout; its header deadline starts then.
  void AwaitNextRequest() {
    if (buffer_.size() > 0) {
      deadline_ = std::chrono::steady_clock::now() + shared_.options.header_timeout;
      return ReadHeader();
    }
    if (shared_.stopping.load()) return Close();
    shared_.StartWaiting(*this);
    if (buffer_.capacity() > (16u << 10)) buffer_.shrink_to_fit();
    Lowest().expires_after(shared_.options.keep_alive_timeout);
    stream_.async_read_some(buffer_.prepare(1024), [self = Self()](beast::error_code ec, size_t n) {
      if (ec) return self->Fail(ec);
      self->buffer_.commit(n);
      self->deadline_ = std::chrono::steady_clock::now() + self->shared_.options.header_timeout;
      self->ReadHeader();
    });
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_.options.max_header_bytes));
    parser_->body_limit(shared_.largest_body);
    parser_->get().body().budget = &shared_.budget;
    open_line_ = 0;
    saw_newline_ = false;
    NoteBytes(Buffered());
    Lowest().expires_at(deadline_);
    ParseBuffered();
  }

  // Feeds what is buffered to the parser; reads more while the header is
  // incomplete, checking the line and size limits on every read.
  void ParseBuffered() {
    if (buffer_.size() > 0) {
      beast::error_code ec;
      size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::header_limit) return Refuse(HeaderTooLarge());
      // The parser checks Content-Length against its cap (the largest route
      // limit) as it reads the header.
      if (ec == http::error::body_limit)
        return Refuse(HttpResponse::Error(413, "body over the size limit"));
      if (ec && ec != http::error::need_more)
        return Refuse(HttpResponse::Error(400, "malformed request: " + ec.message()));
      if (parser_->is_header_done()) return OnHeader();
      if (std::optional<int> over = LineOverLimit()) {
        return Refuse(HttpResponse::Error(
            *over, *over == 414 ? "request line too long" : "header line too long"));
      }
      if (buffer_.size() > shared_.options.max_header_bytes) return Refuse(HeaderTooLarge());
    }
    const size_t room = buffer_.max_size() - buffer_.size();
    stream_.async_read_some(buffer_.prepare(std::min<size_t>(room, 16u << 10)),
                            [self = Self()](beast::error_code ec, size_t n) {
                              if (ec) return self->Fail(ec);
                              self->buffer_.commit(n);
                              self->NoteBytes(self->Buffered().substr(self->buffer_.size() - n));
                              self->ParseBuffered();
                            });
  }

  HttpResponse HeaderTooLarge() {
    return saw_newline_ ? HttpResponse::Error(431, "request headers too large")
                        : HttpResponse::Error(414, "request line too long");
  }

  // Tracks the line being received across reads (the parser may consume a
  // header's first lines before the rest has come).
  void NoteBytes(std::string_view fresh) {
    size_t nl = fresh.rfind('\n');
    if (nl == std::string_view::npos) {
      open_line_ += fresh.size();
    } else {
      saw_newline_ = true;
      open_line_ = fresh.size() - nl - 1;
    }
  }

  // 414 when the request line, 431 when a header line, has grown past the
  // line limit without ending. The request line may be longer than its
  // target by the method, the version and the CR.
  std::optional<int> LineOverLimit() const {
    if (open_line_ <= shared_.options.max_line_bytes + kLineSlack) return std::nullopt;
    return saw_newline_ ? 431 : 414;
  }

  void OnHeader() {
    shared_.StopWaiting(*this);
    shared_.requests.fetch_add(1, std::memory_order_relaxed);
    const auto& msg = parser_->get();
    request_ = HttpRequest();
    {
      beast::error_code ec;
      auto peer = Lowest().socket().remote_endpoint(ec);
      if (!ec) request_.remote_address = peer.address().to_string();
    }
    request_.method = std::string(msg.method_string());
    request_.target = std::string(msg.target());
    if (request_.target.size() > shared_.options.max_line_bytes) {
      return Refuse(HttpResponse::Error(414, "request line too long"));
    }
    size_t fields = 0;
    for (const auto& f : msg) {
      if (++fields > shared_.options.max_header_fields) {
        return Refuse(HttpResponse::Error(431, "too many header fields"));
      }
      if (f.name_string().size() + f.value().size() + 2 > shared_.options.max_line_bytes) {
        return Refuse(HttpResponse::Error(431, "header line too long"));
      }
      request_.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    if (!SplitTarget(request_.target, request_)) {
      return Refuse(HttpResponse::Error(400, "the request target must be a path"));
    }
    head_ = msg.method() == http::verb::head;
    keep_alive_ = msg.keep_alive();
    Router::Match match = shared_.router.Find(request_);
    if (match.answer) return Refuse(std::move(*match.answer));
    route_ = match.route;
    const size_t limit =
        route_->max_body_bytes != 0 ? route_->max_body_bytes : shared_.options.max_body_bytes;
    if (auto length = parser_->content_length(); length && *length > limit) {
      return Refuse(HttpResponse::Error(413, "body over the size limit"));
    }
    parser_->body_limit(limit);
    // The whole request, body included, within request_timeout of its start.
    const SteadyTime start = deadline_ - shared_.options.header_timeout;
    Lowest().expires_at(start + shared_.options.request_timeout);
    if (parser_->is_done()) return Dispatch();
    if (beast::iequals(msg[http::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                              [self = Self()](beast::error_code ec, size_t) {
                                if (ec) return self->Fail(ec);
                                self->ReadBody();
                              });
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_, [self = Self()](beast::error_code ec, size_t) {
      if (ec == http::error::body_limit) {
        return self->Refuse(HttpResponse::Error(413, "body over the size limit"));
      }
      if (ec.value() == ENOBUFS && ec.category() == beast::system_category()) {
        return self->Refuse(
            HttpResponse::Error(503, "server busy: too many large requests at once"));
      }
      if (ec == beast::error::timeout) return self->Fail(ec);
      if (ec == http::error::end_of_stream || ec == net::error::eof ||
          ec == net::error::connection_reset) {
        return self->Fail(ec);
      }
      if (ec) {
        return self->Refuse(HttpResponse::Error(400, "malformed request: " + ec.message()));
      }
      self->Dispatch();
    });
  }

  // Hands the complete request to its route.
  void Dispatch() {
    auto& body = parser_->get().body();
    request_.body = std::move(body.data);
    charge_ = std::make_unique<BudgetedBody::value_type>(std::move(body));
    shared_.in_flight.fetch_add(1);
    auto self = Self();
    Respond respond = [self, once = std::make_shared<std::atomic<bool>>(false)](HttpResponse r) {
      if (once->exchange(true)) return;
      net::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable {
        self->Write(std::move(r), /*request_read=*/true);
      });
    };
    const Route* route = route_;
    if (route->runs == Route::Runs::kBlocking) {
      net::post(*shared_.workers, [route, req = std::move(request_), respond]() mutable {
        route->handler(std::move(req), std::move(respond));
      });
    } else {
      route->handler(std::move(request_), std::move(respond));
    }
  }

  // An answer given before the request was read through: the connection
  // closes after it, so the unread rest is never taken for a next request.
  void Refuse(HttpResponse r) {
    shared_.CountRejected(r.status);
    shared_.in_flight.fetch_add(1);
    // A refused request with no body (a GET to a wrong route) leaves nothing
    // unread, so its connection may stay open.
    const bool read_through = parser_ && parser_->is_header_done() && parser_->is_done();
    Write(std::move(r), read_through);
  }

  void Write(HttpResponse r, bool request_read) {
    const bool close = !request_read || !keep_alive_ || shared_.stopping.load();
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), 11);
    res->set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->body() = std::move(r.body);
    res->prepare_payload();
    if (head_) res->body().clear();
    res->keep_alive(!close);
    Lowest().expires_after(shared_.options.header_timeout);
    http::async_write(stream_, *res,
                      [self = Self(), res, close, request_read, on_sent = std::move(r.on_sent)](
                          beast::error_code ec, size_t) {
                        if (on_sent) on_sent();
                        self->charge_.reset();
                        self->shared_.RequestDone();
                        if (ec) return self->Fail(ec);
                        if (close && !request_read) return self->Linger();
                        if (close) return self->Close();
                        self->head_ = false;
                        self->AwaitNextRequest();
                      });
  }

  // After an answer given with the request unread: stop sending, and read
  // and drop what the client still sends for a moment, so that it can read
  // the answer instead of getting a reset (the "lingering close" of HTTP
  // servers). Bounded in time; nothing is kept.
  void Linger() {
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    Lowest().expires_after(std::min<std::chrono::milliseconds>(shared_.options.header_timeout,
                                                               std::chrono::seconds(2)));
    buffer_.clear();
    DrainSome();
  }
  void DrainSome() {
    Lowest().async_read_some(buffer_.prepare(4096), [self = Self()](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      self->DrainSome();
    });
  }

  void Fail(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      shared_.timeouts.fetch_add(1, std::memory_order_relaxed);
      if (shared_.timeout_counter) shared_.timeout_counter->Increment();
    }
    Close();
  }

  void Close() {
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
  }

  Shared& shared_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  SteadyTime deadline_;  // the current request's header deadline
  HttpRequest request_;
  const Route* route_ = nullptr;
  bool head_ = false;
  bool keep_alive_ = true;
  size_t open_line_ = 0;                              // bytes of the header line being received
  bool saw_newline_ = false;                          // the request line has ended
  std::unique_ptr<BudgetedBody::value_type> charge_;  // the body's budget charge until answered
};

class BeastHttpServer final : public HttpServer {
 public:
  BeastHttpServer(HttpServerOptions options, Router router)
      : shared_(std::move(options), std::move(router)),
        workers_(static_cast<size_t>(std::max(1, shared_.options.worker_threads))),
        acceptor_(ioc_) {
    shared_.workers = &workers_;
  }
  ~BeastHttpServer() override { Stop(std::chrono::milliseconds(0)); }

  Status Init(MetricsRegistry* metrics) {
    const auto& o = shared_.options;
    shared_.largest_body = o.max_body_bytes;
    // Routes' limits are recorded per route; the parser's cap is the largest.
    if (!o.tls_cert.empty() || !o.tls_key.empty()) {
      if (o.tls_cert.empty() || o.tls_key.empty()) {
        return Status::InvalidArgument("tls: set both tls.cert and tls.key");
      }
      for (const std::string& f : {o.tls_cert, o.tls_key}) {
        if (!std::ifstream(f)) return Status::InvalidArgument("tls: cannot read " + f);
      }
      tls_.emplace(ssl::context::tls_server);
      SSL_CTX* ctx = tls_->native_handle();
      SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
      SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
      // Idle TLS connections give their read/write buffers back (~34 KB each).
      SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
      if (SSL_CTX_use_certificate_chain_file(ctx, o.tls_cert.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx, o.tls_key.c_str(), SSL_FILETYPE_PEM) != 1 ||
          SSL_CTX_check_private_key(ctx) != 1) {
        return Status::InvalidArgument("tls: the certificate " + o.tls_cert + " or key " +
                                       o.tls_key + " is not valid PEM, or they do not match");
      }
    }
    if (metrics != nullptr) {
      const MetricLabels l = {{"listener", o.name}};
      shared_.refused_counter = metrics->GetCounter(
          "relayq_http_connections_refused_total",
          "Connections closed at once because the listener had http.max_connections open", l);
      shared_.evicted_counter = metrics->GetCounter(
          "relayq_http_connections_evicted_total",
          "Connections without a complete request header closed to admit a new one at "
          "http.max_connections",
          l);
      shared_.timeout_counter = metrics->GetCounter(
          "relayq_http_timeouts_total",
          "Connections closed for missing a deadline (handshake, header, request, idle, write)", l);
      for (int code : {400, 401, 404, 405, 413, 414, 415, 431, 503}) {
        shared_.rejected.emplace_back(
            code, metrics->GetCounter("relayq_http_rejected_total",
                                      "Requests answered before their body was handled, by code",
                                      {{"listener", o.name}, {"code", std::to_string(code)}}));
      }
      Shared* s = &shared_;
      metrics->AddGauge("relayq_http_connections", "Open connections by listener", [s, l] {
        return std::vector<std::pair<MetricLabels, double>>{
            {l, static_cast<double>(s->open.load())}};
      });
    }
    return Status::Ok();
  }

  void SetLargestBody(size_t n) { shared_.largest_body = std::max(shared_.largest_body, n); }

  Status Start() override {
    const auto& o = shared_.options;
    beast::error_code ec;
    auto address = net::ip::make_address(o.host, ec);
    if (ec)
      return Status::InvalidArgument(o.name + " listener: '" + o.host + "' is not an IP address");
    tcp::endpoint endpoint(address, static_cast<unsigned short>(o.port));
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(1024, ec);
    if (ec) {
      return Status::Unavailable(o.name + " listener: cannot bind " + o.host + ":" +
                                 std::to_string(o.port) + " (" + ec.message() + ")");
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    for (int i = 0; i < std::max(1, o.io_threads); ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
    return Status::Ok();
  }

  int port() const override { return port_; }
  std::string address() const override {
    const std::string& h = shared_.options.host;
    return (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + std::to_string(port_);
  }
  bool tls() const override { return tls_.has_value(); }

  HttpServerStats Stats() const override {
    return {shared_.open.load(), shared_.accepted.load(), shared_.refused.load(),
            shared_.timeouts.load(), shared_.requests.load()};
  }

  void Stop(std::chrono::milliseconds grace) override {
    if (stopped_) return;
    stopped_ = true;
    shared_.stopping = true;
    net::post(ioc_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    {
      std::unique_lock lock(shared_.idle_mu);
      shared_.idle_cv.wait_for(lock, grace, [this] { return shared_.in_flight.load() == 0; });
    }
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    workers_.join();
    // The posted close may not have run before the loop stopped; with every
    // thread joined the acceptor is ours to close, so from here on a
    // connection is refused, not left waiting in the listen backlog.
    beast::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  void Accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           [this](beast::error_code ec, tcp::socket socket) {
                             if (ec == net::error::operation_aborted || !acceptor_.is_open())
                               return;
                             if (ec) {
                               // Out of descriptors or memory: wait a moment instead of spinning.
                               backoff_.emplace(ioc_, std::chrono::milliseconds(50));
                               backoff_->async_wait([this](beast::error_code) { Accept(); });
                               return;
                             }
                             OnAccept(std::move(socket));
                             Accept();
                           });
  }

  void OnAccept(tcp::socket socket) {
    shared_.accepted.fetch_add(1, std::memory_order_relaxed);
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (shared_.open.load() >= shared_.options.max_connections && shared_.EvictOldestWaiting()) {
      if (shared_.evicted_counter) shared_.evicted_counter->Increment();
    } else if (shared_.open.load() >= shared_.options.max_connections) {
      shared_.refused.fetch_add(1, std::memory_order_relaxed);
      if (shared_.refused_counter) shared_.refused_counter->Increment();
      if (!tls_) {
        // A fresh socket's send buffer is empty: this short write completes
        // at once or not at all, and never blocks the loop.
        static constexpr std::string_view kBusy =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            "Content-Length: 43\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
            "{\"error\":\"too many connections; try again\"}";
        socket.non_blocking(true, ignored);
        socket.write_some(net::buffer(kBusy.data(), kBusy.size()), ignored);
      }
      socket.close(ignored);
      return;
    }
    shared_.open.fetch_add(1);
    const SteadyTime now = std::chrono::steady_clock::now();
    if (tls_) {
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(shared_, now,
                                                                      std::move(socket), *tls_)
          ->Run();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(shared_, now, std::move(socket))->Run();
    }
  }

  Shared shared_;
  net::thread_pool workers_;
  std::optional<ssl::context> tls_;
  net::io_context ioc_;  // declared after what its pending handlers reference
  tcp::acceptor acceptor_;
  std::optional<net::steady_timer> backoff_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Create(HttpServerOptions options, Router router,
                                                       MetricsRegistry* metrics) {
  size_t largest = options.max_body_bytes;
  for (const Route& r : router.Routes()) largest = std::max(largest, r.max_body_bytes);
  auto server = std::make_unique<BeastHttpServer>(std::move(options), std::move(router));
  if (Status s = server->Init(metrics); !s.ok()) return s;
  server->SetLargestBody(largest);
  return std::unique_ptr<HttpServer>(std::move(server));
}

uint64_t RaiseFileLimit(uint64_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur >= wanted) return limit.rlim_cur;
  rlimit raised = limit;
  raised.rlim_cur =
      limit.rlim_max == RLIM_INFINITY ? wanted : std::min<rlim_t>(wanted, limit.rlim_max);
  if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) return limit.rlim_cur;
  return raised.rlim_cur;
}

}  // namespace relayq::server
