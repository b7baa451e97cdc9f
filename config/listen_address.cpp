#include "config/listen_address.h"

#include <algorithm>
#include <cctype>

namespace caloria {

Result<ListenAddress> ParseListenAddress(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    return Fail("--web.listen-address='" + text +
                "' has no port: write it as HOST:PORT or :PORT, e.g. :9841");
  }
  const std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  const bool numeric =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); });
  if (!numeric || std::stoi(port) < 1 || std::stoi(port) > 65535) {
    return Fail("--web.listen-address='" + text +
                "' has an invalid port: use a number from 1 to 65535, e.g. :9841");
  }
  ListenAddress address{text, host, std::stoi(port)};
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    address.host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return Fail("--web.listen-address='" + text +
                "': put an IPv6 address in brackets, e.g. [::1]:9841");
  }
  return address;
}

}  // namespace caloria
