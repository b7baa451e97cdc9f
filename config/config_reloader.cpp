#include "config/config_reloader.h"

#include <fstream>
#include <functional>
#include <iterator>

namespace caloria {
namespace {

constexpr std::size_t kMaxWatchedBytes = 1024 * 1024;

// A hash of the file's first megabyte, or nullopt when it cannot be read:
// cheap for an env file, and unlike mtime it sees an edit within the same
// second and ignores a touch.
std::optional<std::size_t> ContentHash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(kMaxWatchedBytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return std::nullopt;
  text.resize(static_cast<std::size_t>(in.gcount()));
  return std::hash<std::string>{}(text);
}

}  // namespace

ConfigReloader::ConfigReloader(Loader load, ConfigStore& store, Logger& logger)
    : load_(std::move(load)), store_(store), logger_(logger) {
  status_.last_success = std::chrono::system_clock::now();
  fingerprints_ = Fingerprint(*store_.Latest());
}

ConfigReloader::Fingerprints ConfigReloader::Fingerprint(const Config& config) {
  Fingerprints fingerprints;
  for (const auto& path : config.database.files_read) fingerprints[path] = ContentHash(path);
  // The web-config file and the certificate, key and client CA it names: a
  // rotated certificate is served without a restart.
  for (const auto& path : config.web.config.files_read) fingerprints[path] = ContentHash(path);
  return fingerprints;
}

Status ConfigReloader::Reload(const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  Result<Config> loaded = load_();
  if (!loaded) {
    status_.last_successful = false;
    status_.error = loaded.error();
    rejected_ = Fingerprint(*store_.Latest());
    logger_.Error("configuration reload failed, keeping the previous one",
                  {{"trigger", why}, {"err", loaded.error()}});
    return Fail(loaded.error());
  }
  auto config = std::make_shared<const Config>(std::move(*loaded));
  fingerprints_ = Fingerprint(*config);
  rejected_.clear();
  status_.last_successful = true;
  status_.last_success = std::chrono::system_clock::now();
  status_.error.reset();
  const DatabaseLocation& database = config->database;
  logger_.Info("configuration reloaded", {{"trigger", why},
                                          {"database_type", DatabaseTypeName(database.url.type)},
                                          {"database_url", database.url.Redacted()},
                                          {"url_origin", database.origin}});
  for (const auto& problem : database.problems) {
    logger_.Warn("configuration problem", {{"check", problem.check}, {"problem", problem.message}});
  }
  store_.Publish(std::move(config));
  return {};
}

bool ConfigReloader::ReloadIfFilesChanged() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const Fingerprints& known = rejected_.empty() ? fingerprints_ : rejected_;
    if (Fingerprint(*store_.Latest()) == known) return false;
  }
  static_cast<void>(Reload("a configuration file changed"));
  return true;
}

ReloadStatus ConfigReloader::LastReload() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

}  // namespace caloria
