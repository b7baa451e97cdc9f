#include "http/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include "core/logger.h"

// The server against raw sockets: what a well-behaved client gets, and what
// a client that sends garbage, too much, too slowly or too often gets.
// tests/integration/test_web_server.py does the same with curl, openssl and
// crowds of connections.

namespace caloria {
namespace {

using std::chrono::milliseconds;

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

class Client {
 public:
  explicit Client(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~Client() { close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  void Send(const std::string& text) const { send(fd_, text.data(), text.size(), MSG_NOSIGNAL); }

  // Everything that arrives until the peer closes or `wait` passes without
  // a byte; `*closed` says which.
  std::string Receive(milliseconds wait = milliseconds(3000), bool* closed = nullptr) const {
    std::string answer;
    char buffer[4096];
    for (;;) {
      pollfd ready{fd_, POLLIN, 0};
      if (poll(&ready, 1, static_cast<int>(wait.count())) <= 0) {
        if (closed) *closed = false;
        return answer;
      }
      const ssize_t got = recv(fd_, buffer, sizeof(buffer), 0);
      if (got <= 0) {
        if (closed) *closed = true;
        return answer;
      }
      answer.append(buffer, static_cast<std::size_t>(got));
    }
  }

  // Receives until `count` responses (by their status lines) have arrived.
  std::string ReceiveResponses(int count) const {
    std::string answer;
    char buffer[4096];
    while (Count(answer, "HTTP/1.") < count) {
      pollfd ready{fd_, POLLIN, 0};
      if (poll(&ready, 1, 3000) <= 0) break;
      const ssize_t got = recv(fd_, buffer, sizeof(buffer), 0);
      if (got <= 0) break;
      answer.append(buffer, static_cast<std::size_t>(got));
    }
    return answer;
  }

  static int Count(const std::string& text, const std::string& what) {
    int count = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
      ++count;
    }
    return count;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// The server logs on its network thread while the test reads: a stream
// buffer that takes a lock for both, so the test's reads are no data race.
class SyncedLog : public std::streambuf {
 public:
  std::string str() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }

 protected:
  int overflow(int character) override {
    if (character == traits_type::eof()) return 0;
    std::lock_guard<std::mutex> lock(mutex_);
    text_.push_back(static_cast<char>(character));
    return character;
  }
  std::streamsize xsputn(const char* data, std::streamsize size) override {
    std::lock_guard<std::mutex> lock(mutex_);
    text_.append(data, static_cast<std::size_t>(size));
    return size;
  }

 private:
  mutable std::mutex mutex_;
  std::string text_;
};

HttpResponse Answer(const HttpRequest& request) {
  if (request.path == "/bug") throw std::logic_error("handler bug");
  HttpResponse response{200, "text/plain", request.method + " " + request.path + "\n", {}, false};
  response.head_only = request.method == "HEAD";
  return response;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(WebSettings settings = {}) {
    port_ = FreePort();
    auto security = WebSecurity::Build(settings);
    ASSERT_TRUE(security.ok()) << security.error();
    auto server = HttpServer::Start({"127.0.0.1:" + std::to_string(port_), "127.0.0.1", port_},
                                    settings, *security, &Answer, logger_);
    ASSERT_TRUE(server.ok()) << server.error();
    server_ = std::move(*server);
  }

  std::string Exchange(const std::string& request) const {
    Client client(port_);
    client.Send(request);
    return client.Receive();
  }

  SyncedLog log_;
  std::ostream log_stream_{&log_};
  Logger logger_{log_stream_, LogLevel::kInfo, LogFormat::kLogfmt};
  int port_ = 0;
  std::unique_ptr<HttpServer> server_;
};

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

TEST_F(HttpServerTest, AHandlerThatThrowsAnswers500AndTheServerCarriesOn) {
  Start();
  const std::string failed = Exchange("GET /bug HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(StartsWith(failed, "HTTP/1.1 500")) << failed;
  EXPECT_NE(log_.str().find("handler bug"), std::string::npos) << log_.str();
  const std::string fine = Exchange("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(StartsWith(fine, "HTTP/1.1 200")) << fine;
  EXPECT_NE(fine.find("GET /\n"), std::string::npos) << fine;
  EXPECT_NE(fine.find("X-Content-Type-Options: nosniff"), std::string::npos) << fine;
}

TEST_F(HttpServerTest, AnAddressInUseIsAOneLineErrorWithTheFix) {
  Start();
  const ListenAddress address{"127.0.0.1:" + std::to_string(port_), "127.0.0.1", port_};
  auto security = WebSecurity::Build({});
  ASSERT_TRUE(security.ok());
  auto second = HttpServer::Start(address, {}, *security, &Answer, logger_);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().find(address.text), std::string::npos) << second.error();
  EXPECT_NE(second.error().find("--web.listen-address"), std::string::npos) << second.error();
  EXPECT_EQ(second.error().find('\n'), std::string::npos) << second.error();
}

TEST_F(HttpServerTest, KeepAliveServesRequestsOneAfterTheOtherAndPipelined) {
  Start();
  Client client(port_);
  client.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(client.ReceiveResponses(1).find("GET /a\n"), std::string::npos);
  client.Send("GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c?query=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string both = client.ReceiveResponses(2);
  EXPECT_NE(both.find("GET /b\n"), std::string::npos) << both;
  EXPECT_NE(both.find("GET /c\n"), std::string::npos) << both;
}

TEST_F(HttpServerTest, Http10ClosesUnlessAskedToKeepAlive) {
  Start();
  bool closed = false;
  Client plain(port_);
  plain.Send("GET /x HTTP/1.0\r\n\r\n");
  const std::string answer = plain.Receive(milliseconds(3000), &closed);
  EXPECT_TRUE(StartsWith(answer, "HTTP/1.0 200")) << answer;
  EXPECT_TRUE(closed);
}

TEST_F(HttpServerTest, HeadSendsTheLengthButNoBody) {
  Start();
  const std::string answer = Exchange("HEAD /x HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(StartsWith(answer, "HTTP/1.1 200")) << answer;
  EXPECT_NE(answer.find("Content-Length: 8\r\n"), std::string::npos) << answer;  // "HEAD /x\n"
  EXPECT_EQ(answer.substr(answer.find("\r\n\r\n") + 4), "") << answer;
}

TEST_F(HttpServerTest, WhatIsNotHttp1IsAnsweredNotSilentlyClosed) {
  Start();
  EXPECT_TRUE(StartsWith(Exchange("GET / HTTP/2.0\r\n\r\n"), "HTTP/1.1 505")) << "HTTP/2.0";
  EXPECT_TRUE(StartsWith(Exchange("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "HTTP/1.1 505"));
  EXPECT_TRUE(StartsWith(Exchange("GET / FTP/1.1\r\n\r\n"), "HTTP/1.1 400"));
  EXPECT_TRUE(StartsWith(Exchange("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"),
                         "HTTP/1.1 400"));
  EXPECT_TRUE(StartsWith(Exchange("GET nopath HTTP/1.1\r\n\r\n"), "HTTP/1.1 400"));
  EXPECT_TRUE(StartsWith(Exchange("GET / HTTP/1.1\r\nBad Header\r\n\r\n"), "HTTP/1.1 400"));
}

TEST_F(HttpServerTest, OversizedRequestsAreRefused) {
  Start();
  const std::string long_header =
      "GET / HTTP/1.1\r\nX-Long: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_TRUE(StartsWith(Exchange(long_header), "HTTP/1.1 431"));
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 150; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
  EXPECT_TRUE(StartsWith(Exchange(many + "\r\n"), "HTTP/1.1 431"));
  const std::string body =
      "POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + std::string(5000, 'b');
  EXPECT_TRUE(StartsWith(Exchange(body), "HTTP/1.1 413"));
}

TEST_F(HttpServerTest, AbsoluteFormTargetsAreServedByTheirPath) {
  Start();
  const std::string answer =
      Exchange("GET http://127.0.0.1/abs?x=1 HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_NE(answer.find("GET /abs\n"), std::string::npos) << answer;
}

TEST_F(HttpServerTest, ConnectionsOverThePerAddressCapAreAnswered503) {
  WebSettings settings;
  settings.max_connections_per_ip = 2;
  Start(settings);
  Client first(port_);
  Client second(port_);
  first.Send("GET /1 HTTP/1.1\r\n\r\n");  // both admitted before the third comes
  second.Send("GET /2 HTTP/1.1\r\n\r\n");
  ASSERT_NE(first.ReceiveResponses(1).find("200"), std::string::npos);
  ASSERT_NE(second.ReceiveResponses(1).find("200"), std::string::npos);
  Client third(port_);
  const std::string refused = third.Receive();
  EXPECT_TRUE(StartsWith(refused, "HTTP/1.1 503")) << refused;
  EXPECT_NE(log_.str().find("max-connections-per-ip"), std::string::npos) << log_.str();
}

TEST_F(HttpServerTest, ClosingAConnectionFreesItsSlot) {
  WebSettings settings;
  settings.max_connections = 1;
  Start(settings);
  for (int i = 0; i < 3; ++i) {
    const std::string answer = Exchange("GET /again HTTP/1.1\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(StartsWith(answer, "HTTP/1.1 200")) << i << ": " << answer;
    std::this_thread::sleep_for(milliseconds(50));  // the server sees the close
  }
}

TEST_F(HttpServerTest, ATrickledRequestIsCutOffAtTheReadTimeout) {
  WebSettings settings;
  settings.read_timeout = milliseconds(400);
  Start(settings);
  Client slow(port_);
  const auto started = std::chrono::steady_clock::now();
  bool closed = false;
  // A byte every 100 ms: each well within any per-read timeout, the whole
  // request never finished.
  for (const char byte : std::string("GET / HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa")) {
    slow.Send(std::string(1, byte));
    if (!slow.Receive(milliseconds(100), &closed).empty() || closed) break;
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(2000));
}

TEST_F(HttpServerTest, AnIdleKeptAliveConnectionIsClosedAtTheIdleTimeout) {
  WebSettings settings;
  settings.idle_timeout = milliseconds(300);
  Start(settings);
  Client client(port_);
  client.Send("GET / HTTP/1.1\r\n\r\n");
  ASSERT_NE(client.ReceiveResponses(1).find("200"), std::string::npos);
  bool closed = false;
  client.Receive(milliseconds(3000), &closed);
  EXPECT_TRUE(closed);
}

TEST_F(HttpServerTest, IdleConnectionsDoNotDelayOthers) {
  WebSettings settings;
  settings.max_connections_per_ip = 200;
  Start(settings);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 100; ++i) idle.push_back(std::make_unique<Client>(port_));
  const auto started = std::chrono::steady_clock::now();
  const std::string answer = Exchange("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(StartsWith(answer, "HTTP/1.1 200")) << answer;
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(1000));
}

}  // namespace
}  // namespace caloria
