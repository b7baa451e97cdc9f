#pragma once

// Fixtures shared by the unit tests: a scratch directory and a time zone
// that are both put back the way they were when the test ends, gzip, and the
// table-shaped cases in tests/cases/.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "collectors/registry.h"

namespace caloria::testing {

// A fresh directory under the system temp directory, removed with its
// contents when the test ends.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            ("caloria_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
             std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    // A test may have taken its own permissions away to make it unreadable.
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ignored);
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string Path() const { return path_.string(); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Sets TZ for the lifetime of the object and restores the previous value
// (or its absence) afterwards, so no test leaks its zone into another.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* zone) {
    if (const char* previous = std::getenv("TZ")) previous_ = previous;
    setenv("TZ", zone, 1);
    tzset();
  }
  ~ScopedTimeZone() {
    if (previous_) {
      setenv("TZ", previous_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  ScopedTimeZone(const ScopedTimeZone&) = delete;
  ScopedTimeZone& operator=(const ScopedTimeZone&) = delete;

 private:
  std::optional<std::string> previous_;
};

// Compresses `text` into one gzip member, as `gzip` and pg_dump | gzip do.
inline std::string Gzip(const std::string& text, int level = 6) {
  z_stream stream{};
  if (deflateInit2(&stream, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, text.size()) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&stream, Z_FINISH);
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  out.resize(stream.total_out);
  return out;
}

// One of the case files in tests/cases/ (CALORIA_TEST_CASES_DIR, set by
// CMakeLists.txt), which tests/integration/test_backup_script_agrees.py runs
// through the backup script too. Throws, failing the test, when it is missing
// or not JSON.
inline nlohmann::json LoadCases(const std::string& file) {
  const std::string path = std::string(CALORIA_TEST_CASES_DIR) + "/" + file;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the case file " + path);
  return nlohmann::json::parse(in);
}

// Builds `registry`'s collectors from a command line, as the exporter does
// at startup, on the default configuration: a collector spec's flag checks
// and factory, tested through the registry. The collectors may refer to the
// configuration store, which is gone once this returns: look at them (which,
// how many), do not run them.
inline Result<CollectorList> BuildCollectors(const CollectorRegistry& registry,
                                             const std::vector<std::string>& args) {
  Result<CommandLine> command = ParseCommandLine(args, registry.FlagGroups());
  if (!command) return Fail(command.error());
  Config config;
  config.flags = command->flags;
  SharedObservations shared;
  ConfigStore store(std::make_shared<const Config>(config));
  return registry.Build({config, store, nullptr, shared, [] {}});
}

// The metric family `name` of a collector run, or null when it is absent.
inline const prometheus::MetricFamily* FindFamily(const CollectorResult& result,
                                                  const std::string& name) {
  for (const auto& family : result.families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

// A TCP socket bound to 127.0.0.1 on a port the kernel picks, not yet
// listening, or -1; `port` receives the port. The caller closes it.
inline int BindLoopback(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  port = ntohs(address.sin_port);
  return fd;
}

}  // namespace caloria::testing
