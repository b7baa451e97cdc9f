#include "config/config_reloader.h"

#include <functional>
#include <iterator>
#include <set>

#include "core/bounded_file.h"

namespace caloria {
namespace {

constexpr std::size_t kMaxWatchedBytes = 1024 * 1024;

// A hash of the file's first megabyte, or nullopt when it cannot be read:
// cheap for an env file, and unlike mtime it sees an edit within the same
// second and ignores a touch.
std::optional<std::size_t> ContentHash(const std::string& path) {
  const Result<std::string> text = ReadBoundedFile(path, kMaxWatchedBytes);
  if (!text) return std::nullopt;
  return std::hash<std::string>{}(*text);
}

}  // namespace

ConfigReloader::ConfigReloader(Loader load, ConfigStore& store, Logger& logger,
                               std::chrono::milliseconds min_check_gap)
    : load_(std::move(load)), store_(store), logger_(logger), min_check_gap_(min_check_gap) {
  status_.last_success = std::chrono::system_clock::now();
  fingerprints_ = Fingerprint(*store_.Latest());
}

ConfigReloader::Fingerprints ConfigReloader::Fingerprint(const Config& config) {
  // Every target's env file and URL file, and the targets file itself (each
  // target lists it), each hashed once.
  std::set<std::string> paths(config.database.files_read.begin(), config.database.files_read.end());
  for (const auto& target : config.targets) {
    paths.insert(target.database.files_read.begin(), target.database.files_read.end());
  }
  // The web-config file and the certificate, key and client CA it names: a
  // rotated certificate is served without a restart.
  paths.insert(config.web.config.files_read.begin(), config.web.config.files_read.end());
  Fingerprints fingerprints;
  for (const auto& path : paths) fingerprints[path] = ContentHash(path);
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
    const auto now = std::chrono::steady_clock::now();
    // Each target's config collector asks at each of its polls: with many
    // targets the files are hashed at most this often, once for all.
    if (last_check_ && now - *last_check_ < min_check_gap_) return false;
    last_check_ = now;
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
