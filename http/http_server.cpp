#include "http/http_server.h"

#include <civetweb.h>

#include <array>
#include <mutex>

#include "core/logger.h"
#include "core/thread_guard.h"

namespace caloria {

struct CivetwebCallbacks {
  static HttpServer& Server(const mg_connection* conn) {
    return *static_cast<HttpServer*>(mg_get_user_data(mg_get_context(conn)));
  }

  // Every request comes through here, so paths CivetWeb would otherwise
  // treat as files never reach its file server.
  static int BeginRequest(mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    const HttpRequest request{info->request_method ? info->request_method : "",
                              info->local_uri ? info->local_uri : ""};
    HttpServer& server = Server(conn);
    HttpResponse response{500, "text/plain; charset=utf-8", "internal error\n", {}, false};
    RunGuarded(server.logger_, "http handler", [&] { response = server.handler_(request); });
    mg_response_header_start(conn, response.status_code);
    mg_response_header_add(conn, "Content-Type", response.content_type.c_str(), -1);
    mg_response_header_add(conn, "Content-Length", std::to_string(response.body.size()).c_str(),
                           -1);
    for (const auto& [name, value] : response.headers) {
      mg_response_header_add(conn, name.c_str(), value.c_str(), -1);
    }
    mg_response_header_send(conn);
    if (!response.head_only) mg_write(conn, response.body.data(), response.body.size());
    return response.status_code;
  }

  static int LogMessage(const mg_connection* conn, const char* message) {
    if (conn && mg_get_context(conn)) {
      Server(conn).logger_.Warn("http server", {{"err", message}});
      return 1;
    }
    return 0;
  }
};

void HttpServer::Stopper::operator()(mg_context* context) const { mg_stop(context); }

std::string CivetwebListeningPorts(const ListenAddress& address) {
  std::string port = std::to_string(address.port);
  if (address.host.empty()) return port;
  if (address.host.find(':') != std::string::npos) return "[" + address.host + "]:" + port;
  return address.host + ":" + port;
}

HttpServer::HttpServer(Handler handler, Logger& logger)
    : handler_(std::move(handler)), logger_(logger) {}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const ListenAddress& address, Handler handler,
                                                      Logger& logger) {
  auto server = std::make_unique<HttpServer>(std::move(handler), logger);
  const std::string listening_ports = CivetwebListeningPorts(address);
  static std::once_flag library_initialized;
  std::call_once(library_initialized, [] { mg_init_library(0); });

  mg_callbacks callbacks{};
  callbacks.begin_request = &CivetwebCallbacks::BeginRequest;
  callbacks.log_message = &CivetwebCallbacks::LogMessage;
  // Few threads: scrapes and probes only copy a pre-rendered page. The
  // request timeout keeps a slow client from holding one for long.
  const char* options[] = {
      "listening_ports", listening_ports.c_str(), "num_threads", "8",    "request_timeout_ms",
      "10000",           "enable_keep_alive",     "yes",         nullptr};
  mg_init_data init{&callbacks, server.get(), options};
  std::array<char, 256> error_text{};
  unsigned error_code = 0;
  mg_error_data error{&error_code, error_text.data(), error_text.size()};
  server->context_.reset(mg_start2(&init, &error));
  if (!server->context_) {
    return Fail("cannot listen on " + address.text + " (" + error_text.data() +
                "): free the port or choose another with --web.listen-address");
  }
  return server;
}

HttpServer::~HttpServer() = default;

}  // namespace caloria
