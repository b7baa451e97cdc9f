#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "exporter/router.h"

struct mg_context;

namespace caloria {

class Logger;

// The one place that knows which HTTP library serves: CivetWeb today, used
// directly so /metrics and the health pages share one server and one port.
// Handlers run on CivetWeb's worker threads and must only read memory.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Binds and starts serving; throws std::runtime_error (one line, with the
  // fix) when the address cannot be bound.
  HttpServer(const std::string& listening_ports, Handler handler, Logger& logger);
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

}  // namespace caloria
