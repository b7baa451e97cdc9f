#pragma once

#include <functional>
#include <memory>
#include <string>

#include "config/listen_address.h"
#include "core/result.h"
#include "http/router.h"

struct mg_context;

namespace caloria {

class Logger;

// The one place that knows which HTTP library serves: CivetWeb today, used
// directly so /metrics and the health pages share one server and one port.
// Handlers run on CivetWeb's worker threads and must only read memory.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Binds and starts serving, or says in one line (with the fix) why the
  // address cannot be bound. A handler that throws (a bug) answers 500.
  static Result<std::unique_ptr<HttpServer>> Start(const ListenAddress& address, Handler handler,
                                                   Logger& logger);
  HttpServer(Handler handler, Logger& logger);  // use Start()
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

 private:
  struct Stopper {
    void operator()(mg_context* context) const;
  };

  Handler handler_;
  Logger& logger_;
  std::unique_ptr<mg_context, Stopper> context_;

  friend struct CivetwebCallbacks;
};

// ListenAddress in CivetWeb's listening_ports syntax: "9841",
// "127.0.0.1:9841", "[::1]:9841".
std::string CivetwebListeningPorts(const ListenAddress& address);

}  // namespace caloria
