#include "http/http_server.h"

#include <sys/resource.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>

#include "core/thread_guard.h"
#include "http/connection_limiter.h"

namespace caloria {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// A request is a request line and a few headers (Prometheus sends about 300
// bytes); only POST /-/reload has a body, and it is ignored.
constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
constexpr std::size_t kMaxHeaderFields = 100;
constexpr std::size_t kMaxBodyBytes = 1024;
constexpr std::size_t kMaxBufferBytes = kMaxHeaderBytes + kMaxBodyBytes + 1024;
// Basic-auth checks waiting for bcrypt; more are answered 503 rather than
// queued without bound.
constexpr int kMaxPendingAuthChecks = 64;
constexpr int kAuthThreads = 2;
// File descriptors kept free for everything that is not a connection: the
// database, backup files, /proc.
constexpr int kSpareDescriptors = 64;
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr auto kShutdownTimeout = std::chrono::seconds(1);
constexpr auto kRefusalLogEvery = std::chrono::minutes(1);

const char* RefusalReason(ConnectionLimiter::Refusal refusal) {
  return refusal == ConnectionLimiter::Refusal::kTooManyFromAddress
             ? "too many connections from one address (--web.max-connections-per-ip)"
             : "too many connections (--web.max-connections)";
}

// The path and query of a request target: origin form ("/probe?target=a")
// or absolute form ("http://host:9841/metrics"), without the fragment; the
// path is empty when the target is neither (the "*" of OPTIONS, an
// authority).
HttpRequest RoutedRequest(beast::string_view method, beast::string_view target) {
  HttpRequest routed{std::string(method), "", ""};
  std::string text(target.data(), target.size());
  if (text.rfind("http://", 0) == 0 || text.rfind("https://", 0) == 0) {
    const std::size_t slash = text.find('/', text.find("://") + 3);
    text = slash == std::string::npos ? "/" : text.substr(slash);
  }
  if (text.empty() || text.front() != '/') return routed;
  text = text.substr(0, text.find('#'));
  const std::size_t question = text.find('?');
  routed.path = text.substr(0, question);
  if (question != std::string::npos) routed.query = text.substr(question + 1);
  return routed;
}

}  // namespace

// What every connection shares with the server; reference-counted, so a
// connection that outlives the server's stop never reads freed memory.
struct ServerState {
  ServerState(const WebSettings& settings, std::shared_ptr<const WebSecurity> initial,
              HttpServer::Handler request_handler, Logger& server_logger)
      : handler(std::move(request_handler)),
        logger(server_logger),
        read_timeout(settings.read_timeout),
        idle_timeout(settings.idle_timeout),
        limiter(settings.max_connections, settings.max_connections_per_ip),
        security(std::move(initial)) {}

  std::shared_ptr<const WebSecurity> Security() const {
    std::lock_guard<std::mutex> lock(security_mutex);
    return security;
  }

  HttpServer::Handler handler;
  Logger& logger;
  const std::chrono::nanoseconds read_timeout;
  const std::chrono::nanoseconds idle_timeout;
  ConnectionLimiter limiter;
  std::atomic<int> pending_auth_checks{0};

  mutable std::mutex security_mutex;
  std::shared_ptr<const WebSecurity> security;
};

namespace {

// One connection, plain (beast::tcp_stream) or TLS (beast::ssl_stream):
// optional handshake, then requests one after the other, each with its own
// deadline. Lives as long as an operation on it is pending.
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(std::shared_ptr<ServerState> state, std::shared_ptr<const WebSecurity> security,
          ConnectionLimiter::Slot slot, tcp::socket socket,
          const net::thread_pool::executor_type& auth_executor)
      : state_(std::move(state)),
        security_(std::move(security)),
        slot_(std::move(slot)),
        stream_(MakeStream(std::move(socket))),
        auth_executor_(auth_executor) {}

  void Run() {
    if constexpr (kTls) {
      Lowest().expires_after(state_->read_timeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code error) {
                                if (!error) self->WaitForRequest();
                              });
    } else {
      WaitForRequest();
    }
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Stream MakeStream(tcp::socket socket) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *security_->Tls());
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // The wait for a request's first byte has its own deadline: the idle
  // timeout between requests, the read timeout before the first. From the
  // first byte on, the whole request must arrive within the read timeout,
  // so a client trickling a byte at a time (slowloris) is cut off.
  void WaitForRequest() {
    if (buffer_.size() > 0) return ReadRequest();  // pipelined
    Lowest().expires_after(first_request_ ? state_->read_timeout : state_->idle_timeout);
    stream_.async_read_some(buffer_.prepare(1024), [self = this->shared_from_this()](
                                                       beast::error_code error, std::size_t bytes) {
      if (error) return;  // closed, or idle past the timeout: nothing to answer
      self->buffer_.commit(bytes);
      self->ReadRequest();
    });
  }

  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(kMaxBodyBytes);
    Lowest().expires_after(state_->read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code error, std::size_t) {
                       self->OnRequest(error);
                     });
  }

  void OnRequest(beast::error_code error) {
    if (error) {
      // A timeout closes the socket (beast::tcp_stream), a reset or an end
      // of stream leaves nobody to answer; a malformed request is answered.
      if (error == http::error::header_limit || error == http::error::buffer_overflow) {
        return Reject(431, "431 request headers too large\n");
      }
      if (error == http::error::body_limit) return Reject(413, "413 request body too large\n");
      if (error == http::error::bad_version && AnotherHttpVersion()) {
        return Reject(505, "505 HTTP version not supported: use HTTP/1.1 or HTTP/1.0\n");
      }
      if (error.category() == beast::error_code(http::error::end_of_stream).category() &&
          error != http::error::end_of_stream && error != http::error::partial_message) {
        return Reject(400, "400 bad request: not an HTTP/1.x request\n");
      }
      return;
    }
    const auto& request = parser_->get();
    version_ = request.version();
    if (version_ != 10 && version_ != 11) {
      version_ = 11;
      return Reject(505, "505 HTTP version not supported: use HTTP/1.1 or HTTP/1.0\n");
    }
    if (static_cast<std::size_t>(std::distance(request.begin(), request.end())) >
        kMaxHeaderFields) {
      return Reject(431, "431 too many request headers\n");
    }
    keep_alive_ = request.keep_alive();
    HttpRequest routed = RoutedRequest(request.method_string(), request.target());
    if (routed.path.empty()) return Reject(400, "400 bad request: the target must be a path\n");
    const std::shared_ptr<const WebSecurity> security = state_->Security();
    if (!security->NeedsAuth(routed.path)) return Respond(Route(routed), *security);
    CheckAuth(std::move(routed), security, std::string(request[http::field::authorization]));
  }

  // Beast's parser refuses every version but 1.x as malformed; a request
  // line that ends in HTTP/DIGIT is a well-formed request of another
  // version, which deserves 505 rather than 400.
  bool AnotherHttpVersion() const {
    const auto data = buffer_.data();
    const std::string_view received(static_cast<const char*>(data.data()), data.size());
    const std::string_view line = received.substr(0, received.find("\r\n"));
    const std::size_t space = line.rfind(' ');
    if (space == std::string_view::npos) return false;
    const std::string_view version = line.substr(space + 1);
    return version.size() > 5 && version.substr(0, 5) == "HTTP/" && version[5] >= '0' &&
           version[5] <= '9' && version[5] != '1';
  }

  // bcrypt takes tens of milliseconds on a cache miss: it runs on the auth
  // threads, and the answer comes back to the network thread.
  void CheckAuth(HttpRequest routed, std::shared_ptr<const WebSecurity> security,
                 std::string authorization) {
    if (state_->pending_auth_checks.fetch_add(1) >= kMaxPendingAuthChecks) {
      state_->pending_auth_checks.fetch_sub(1);
      return Reject(503, "503 too many logins in progress: retry later\n");
    }
    net::post(auth_executor_, [self = this->shared_from_this(), routed = std::move(routed),
                               security = std::move(security),
                               authorization = std::move(authorization)]() mutable {
      // A bug (or bad_alloc) denies the request; it must not end the thread.
      bool allowed = false;
      RunGuarded(self->state_->logger, "basic auth check",
                 [&] { allowed = security->Authenticator()->Check(authorization); });
      self->state_->pending_auth_checks.fetch_sub(1);
      net::post(self->stream_.get_executor(),
                [self, allowed, routed = std::move(routed), security = std::move(security)] {
                  if (allowed) return self->Respond(self->Route(routed), *security);
                  HttpResponse denied{401,
                                      "text/plain; charset=utf-8",
                                      "401 unauthorized\n",
                                      {{"WWW-Authenticate", "Basic"}},
                                      routed.method == "HEAD"};
                  self->Respond(std::move(denied), *security);
                });
    });
  }

  HttpResponse Route(const HttpRequest& request) {
    HttpResponse response{500, "text/plain; charset=utf-8", "500 internal error\n", {}, false};
    RunGuarded(state_->logger, "http handler", [&] { response = state_->handler(request); });
    return response;
  }

  // Answers and closes: the connection is in an unknown state.
  void Reject(int status, std::string body) {
    keep_alive_ = false;
    Respond({status, "text/plain; charset=utf-8", std::move(body), {}, false}, *state_->Security());
  }

  void Respond(HttpResponse answer, const WebSecurity& security) {
    response_ = {};
    response_.version(version_);
    response_.result(static_cast<unsigned>(answer.status_code));
    response_.set(http::field::content_type, answer.content_type);
    response_.set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : answer.headers) response_.set(name, value);
    for (const auto& [name, value] : security.Headers()) response_.set(name, value);
    response_.keep_alive(keep_alive_);
    if (answer.head_only) {
      response_.content_length(answer.body.size());
    } else {
      response_.body() = std::move(answer.body);
      response_.prepare_payload();
    }
    // Header and body leave in one write, and TCP_NODELAY is set: no Nagle
    // stall on a kept-alive connection.
    Lowest().expires_after(state_->read_timeout);
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](beast::error_code error, std::size_t) {
                        if (error) return;
                        if (!self->keep_alive_) return self->Shutdown();
                        self->first_request_ = false;
                        self->WaitForRequest();
                      });
  }

  void Shutdown() {
    if constexpr (kTls) {
      Lowest().expires_after(kShutdownTimeout);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  std::shared_ptr<ServerState> state_;
  // Before the stream: a TLS stream must not outlive its context.
  std::shared_ptr<const WebSecurity> security_;
  ConnectionLimiter::Slot slot_;
  Stream stream_;
  net::thread_pool::executor_type auth_executor_;
  beast::flat_buffer buffer_{kMaxBufferBytes};
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool first_request_ = true;
};

// Raises the soft limit on open files to the hard one, as Go's runtime does,
// and checks that the connection cap fits under it.
Status ReserveDescriptors(int max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  const rlim_t needed = static_cast<rlim_t>(max_connections) + kSpareDescriptors;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    return Fail("--web.max-connections=" + std::to_string(max_connections) + " needs " +
                std::to_string(needed) + " open files, the limit is " +
                std::to_string(limit.rlim_cur) +
                ": lower --web.max-connections or raise the limit (ulimit -n, LimitNOFILE=)");
  }
  return {};
}

}  // namespace

struct HttpServer::Impl {
  Impl(const WebSettings& settings, std::shared_ptr<const WebSecurity> security, Handler handler,
       Logger& logger)
      : state(std::make_shared<ServerState>(settings, std::move(security), std::move(handler),
                                            logger)) {}

  ~Impl() {
    net::post(io, [this] {
      beast::error_code ignored;
      acceptor.close(ignored);
    });
    io.stop();
    if (thread.joinable()) thread.join();
    auth_pool.stop();
    auth_pool.join();
  }

  Status Listen(const ListenAddress& address) {
    beast::error_code error;
    tcp::endpoint endpoint;
    if (address.host.empty()) {
      // Every interface, IPv6 and IPv4 on one socket where the host has IPv6.
      endpoint = tcp::endpoint(tcp::v6(), static_cast<unsigned short>(address.port));
      acceptor.open(endpoint.protocol(), error);
      if (!error) acceptor.set_option(net::ip::v6_only(false), error);
      if (error) {
        error = {};
        if (acceptor.is_open()) acceptor.close(error);
        endpoint = tcp::endpoint(tcp::v4(), static_cast<unsigned short>(address.port));
      }
    } else {
      tcp::resolver resolver(io);
      const auto results =
          resolver.resolve(address.host, std::to_string(address.port),
                           tcp::resolver::passive | tcp::resolver::numeric_service, error);
      if (error || results.empty()) {
        return Fail("cannot listen on " + address.text + " (cannot resolve " + address.host + ": " +
                    error.message() + "): give an IP address or a resolvable name");
      }
      endpoint = results.begin()->endpoint();
    }
    if (!acceptor.is_open()) acceptor.open(endpoint.protocol(), error);
    if (!error) acceptor.set_option(net::socket_base::reuse_address(true), error);
    if (!error) acceptor.bind(endpoint, error);
    if (!error) acceptor.listen(net::socket_base::max_listen_connections, error);
    if (error) {
      return Fail("cannot listen on " + address.text + " (" + error.message() +
                  "): free the port or choose another with --web.listen-address");
    }
    return {};
  }

  void Accept() {
    acceptor.async_accept([this](beast::error_code error, tcp::socket socket) {
      if (error == net::error::operation_aborted || !acceptor.is_open()) return;
      if (error) {
        // Out of file descriptors, say: wait rather than spin, then go on.
        LogRefusal("cannot accept a connection: " + error.message());
        retry_timer.expires_after(kAcceptRetry);
        retry_timer.async_wait([this](beast::error_code) { Accept(); });
        return;
      }
      Admit(std::move(socket));
      Accept();
    });
  }

  void Admit(tcp::socket socket) {
    beast::error_code error;
    socket.set_option(tcp::no_delay(true), error);
    net::ip::address peer = socket.remote_endpoint(error).address();
    if (error) return;  // already gone
    if (peer.is_v6() && peer.to_v6().is_v4_mapped()) {
      peer = net::ip::make_address_v4(net::ip::v4_mapped, peer.to_v6());
    }
    ConnectionLimiter::Refusal refusal{};
    std::optional<ConnectionLimiter::Slot> slot = state->limiter.Admit(peer.to_string(), &refusal);
    if (!slot) return Refuse(std::move(socket), refusal);
    std::shared_ptr<const WebSecurity> security = state->Security();
    if (security->Tls()) {
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
          state, std::move(security), std::move(*slot), std::move(socket), auth_pool.get_executor())
          ->Run();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(state, std::move(security), std::move(*slot),
                                                   std::move(socket), auth_pool.get_executor())
          ->Run();
    }
  }

  // Over a limit: a plain-HTTP client reads a 503 (one non-blocking write,
  // never waited for), a TLS client sees the connection close (a handshake
  // to say so would cost more than the connection).
  void Refuse(tcp::socket socket, ConnectionLimiter::Refusal refusal) {
    LogRefusal(RefusalReason(refusal));  // first: a client that reads the 503 finds it logged
    const std::shared_ptr<const WebSecurity> security = state->Security();
    if (!security->Tls()) {
      if (!refusal_answer || refusal_answer_for != security) {
        refusal_answer = std::make_shared<const std::string>(RefusalAnswer(*security));
        refusal_answer_for = security;
      }
      beast::error_code ignored;
      socket.non_blocking(true, ignored);
      socket.write_some(net::buffer(*refusal_answer), ignored);
      socket.shutdown(tcp::socket::shutdown_both, ignored);
    }
  }

  // The 503 for a refused connection, serialized once per web config.
  static std::string RefusalAnswer(const WebSecurity& security) {
    http::response<http::string_body> answer{http::status::service_unavailable, 11};
    answer.set(http::field::content_type, "text/plain; charset=utf-8");
    answer.set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : security.Headers()) answer.set(name, value);
    answer.keep_alive(false);
    answer.body() = "503 too many connections: try later\n";
    answer.prepare_payload();
    std::ostringstream text;
    text << answer;
    return text.str();
  }

  // A flood must not flood the log: the first refusal, then a count at most
  // once a minute.
  void LogRefusal(const std::string& reason) {
    ++refused;
    const auto now = std::chrono::steady_clock::now();
    if (refusal_logged && now - last_refusal_log < kRefusalLogEvery) return;
    refusal_logged = true;
    state->logger.Warn("refusing connections",
                       {{"reason", reason}, {"refused_since_last_log", std::to_string(refused)}});
    refused = 0;
    last_refusal_log = now;
  }

  std::shared_ptr<ServerState> state;
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  net::steady_timer retry_timer{io};
  // Declared after the io_context, so destroyed before it: its abandoned
  // jobs release their connections while the io_context still exists.
  net::thread_pool auth_pool{kAuthThreads};
  std::thread thread;
  std::uint64_t refused = 0;
  bool refusal_logged = false;
  std::shared_ptr<const std::string> refusal_answer;
  std::shared_ptr<const WebSecurity> refusal_answer_for;
  std::chrono::steady_clock::time_point last_refusal_log{};
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() = default;

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const ListenAddress& address,
                                                      const WebSettings& settings,
                                                      std::shared_ptr<const WebSecurity> security,
                                                      Handler handler, Logger& logger) {
  const Status descriptors = ReserveDescriptors(settings.max_connections);
  if (!descriptors) return Fail(descriptors.error());
  auto impl = std::make_unique<Impl>(settings, std::move(security), std::move(handler), logger);
  const Status listening = impl->Listen(address);
  if (!listening) return Fail(listening.error());
  impl->Accept();
  Impl& running = *impl;
  impl->thread = std::thread([&running] {
    // A handler that throws is a bug caught per request (Route); anything
    // else escaping the loop is logged, and the loop goes on serving.
    while (auto error = CatchAll([&running] { running.io.run(); })) {
      running.state->logger.Error("http server error", {{"err", *error}});
    }
  });
  return std::make_unique<HttpServer>(std::move(impl));
}

Status HttpServer::UpdateSecurity(std::shared_ptr<const WebSecurity> security) {
  std::lock_guard<std::mutex> lock(impl_->state->security_mutex);
  Status replaceable = security->CanReplace(*impl_->state->security);
  if (!replaceable) return replaceable;
  impl_->state->security = std::move(security);
  return {};
}

}  // namespace caloria
