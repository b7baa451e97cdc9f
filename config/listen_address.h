#pragma once

#include <string>

#include "core/result.h"

namespace caloria {

// Where the exporter listens: --web.listen-address as written (":9841",
// "127.0.0.1:9841", "[::1]:9841"), split into host and port.
struct ListenAddress {
  std::string text;  // as written, for logs
  std::string host;  // empty for every interface; an IPv6 literal without brackets
  int port = 9841;
};

// Accepts :PORT, HOST:PORT and [IPV6]:PORT with a port from 1 to 65535.
Result<ListenAddress> ParseListenAddress(const std::string& text);

}  // namespace caloria
