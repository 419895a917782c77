#include "server/listener.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace relayq::server {
namespace {
constexpr int kListenBacklog = 1024;
}  // namespace

Result<std::unique_ptr<Listener>> Listener::Create(const ListenerOptions& options) {
  std::unique_ptr<Listener> l(new Listener(options));
  if (!options.tls_cert.empty()) {
    for (const std::string& f : {options.tls_cert, options.tls_key}) {
      if (!std::ifstream(f)) return Status::InvalidArgument("tls: cannot read " + f);
    }
    std::string cert = options.tls_cert, key = options.tls_key;
    auto ssl = std::make_unique<httplib::SSLServer>([cert, key](SSL_CTX& ctx) {
      SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
      SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
      return SSL_CTX_use_certificate_chain_file(&ctx, cert.c_str()) == 1 &&
             SSL_CTX_use_PrivateKey_file(&ctx, key.c_str(), SSL_FILETYPE_PEM) == 1 &&
             SSL_CTX_check_private_key(&ctx) == 1;
    });
    if (!ssl->is_valid()) {
      return Status::InvalidArgument("tls: the certificate " + cert + " or key " + key +
                                     " is not valid PEM, or they do not match");
    }
    l->server_ = std::move(ssl);
  } else {
    l->server_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& s = *l->server_;
  const int threads = options.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(100000);
  s.set_keep_alive_timeout(options.keep_alive_timeout_s);
  s.set_read_timeout(options.read_timeout_s, 0);
  s.set_write_timeout(options.read_timeout_s, 0);
  s.set_payload_max_length(options.max_body_bytes);
  Listener* self = l.get();
  s.set_socket_options([self](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    // Only the listening socket passes through here before bind; accepted
    // sockets do not (cpp-httplib 0.11 applies this callback in
    // create_socket only).
    self->listen_fd_ = sock;
  });
  return l;
}

Listener::~Listener() { Stop(); }

Status Listener::Start() {
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
    if (port <= 0) return Status::Unavailable(options_.name + " listener: cannot bind " + options_.host);
  } else if (!server_->bind_to_port(options_.host, port)) {
    return Status::Unavailable(options_.name + " listener: cannot bind " + options_.host + ":" +
                               std::to_string(port) + " (in use, or not an address of this machine)");
  }
  port_ = port;
  if (listen_fd_ >= 0) ::listen(listen_fd_, kListenBacklog);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // cpp-httplib's stop() does nothing until the listening thread has marked
  // the server running, so a SIGTERM right after start would leave it
  // listening forever (and shutdown hung on the join). Report started only
  // once it is running; this takes microseconds.
  for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!server_->is_running()) {
    return Status::Unavailable(options_.name + " listener did not start");
  }
  return Status::Ok();
}

std::string Listener::address() const {
  std::string host = options_.host.find(':') != std::string::npos ? "[" + options_.host + "]" : options_.host;
  return host + ":" + std::to_string(port_);
}

void Listener::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace relayq::server
