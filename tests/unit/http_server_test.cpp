#include "http/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <stdexcept>
#include <string>

#include "core/logger.h"

namespace caloria {
namespace {

TEST(CivetwebListeningPorts, EveryListenAddressForm) {
  EXPECT_EQ(CivetwebListeningPorts({":9841", "", 9841}), "9841");
  EXPECT_EQ(CivetwebListeningPorts({"127.0.0.1:9841", "127.0.0.1", 9841}), "127.0.0.1:9841");
  EXPECT_EQ(CivetwebListeningPorts({"[::1]:9841", "::1", 9841}), "[::1]:9841");
}

// A port nobody listens on right now.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// One GET over a fresh connection; the whole answer, headers included.
std::string Get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return "";
  }
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  send(fd, request.data(), request.size(), 0);
  std::string answer;
  char buffer[4096];
  for (ssize_t got; (got = recv(fd, buffer, sizeof(buffer), 0)) > 0;) answer.append(buffer, got);
  close(fd);
  return answer;
}

TEST(HttpServer, AHandlerThatThrowsAnswers500AndTheServerCarriesOn) {
  std::ostringstream log;
  Logger logger(log, LogLevel::kInfo, LogFormat::kLogfmt);
  const int port = FreePort();
  auto server = HttpServer::Start(
      {"127.0.0.1:" + std::to_string(port), "127.0.0.1", port},
      [](const HttpRequest& request) -> HttpResponse {
        if (request.path == "/bug") throw std::logic_error("handler bug");
        return {200, "text/plain", "fine\n", {}, false};
      },
      logger);
  ASSERT_TRUE(server.ok()) << server.error();
  const std::string failed = Get(port, "/bug");
  EXPECT_EQ(failed.rfind("HTTP/1.1 500", 0), 0u) << failed;
  EXPECT_NE(log.str().find("handler bug"), std::string::npos) << log.str();
  const std::string fine = Get(port, "/");
  EXPECT_EQ(fine.rfind("HTTP/1.1 200", 0), 0u) << fine;
  EXPECT_NE(fine.find("fine"), std::string::npos) << fine;
}

TEST(HttpServer, AnAddressInUseIsAOneLineErrorWithTheFix) {
  std::ostringstream log;
  Logger logger(log, LogLevel::kInfo, LogFormat::kLogfmt);
  const int port = FreePort();
  const ListenAddress address{"127.0.0.1:" + std::to_string(port), "127.0.0.1", port};
  auto handler = [](const HttpRequest&) { return HttpResponse{}; };
  auto first = HttpServer::Start(address, handler, logger);
  ASSERT_TRUE(first.ok()) << first.error();
  auto second = HttpServer::Start(address, handler, logger);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().find(address.text), std::string::npos) << second.error();
  EXPECT_NE(second.error().find("--web.listen-address"), std::string::npos) << second.error();
  EXPECT_EQ(second.error().find('\n'), std::string::npos) << second.error();
}

}  // namespace
}  // namespace caloria
