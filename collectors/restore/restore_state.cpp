#include "collectors/restore/restore_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "core/bounded_file.h"
#include "core/unique_handles.h"

namespace caloria {
namespace {

using Json = nlohmann::ordered_json;

// Strings the file may hold: a path, an error line, a redacted URL.
constexpr std::size_t kMaxStringBytes = 4096;

Json OrNullJson(const std::optional<double>& value) { return value ? Json(*value) : Json(nullptr); }

Json RunJson(const RestoreRun& run) {
  Json out = Json::object();
  out["finished"] = run.finished;
  out["success"] = run.success;
  out["error"] = run.error;
  out["duration_seconds"] = run.duration_seconds;
  out["backup_file"] = run.backup_file;
  out["backup_timestamp"] = OrNullJson(run.backup_timestamp);
  out["backup_format"] = run.backup_format;
  out["restored_users"] = OrNullJson(run.restored_users);
  out["backup_users"] = OrNullJson(run.backup_users);
  out["live_users"] = OrNullJson(run.live_users);
  out["target"] = run.target;
  return out;
}

// Reads the fields of one run, naming the first that is wrong as
// "last_run.finished: must be ...".
class RunReader {
 public:
  RunReader(const Json& object, std::string where) : object_(object), where_(std::move(where)) {}

  Result<RestoreRun> Read() {
    RestoreRun run;
    run.finished = Number("finished", /*whole=*/false, /*required=*/true).value_or(0);
    run.success = Bool("success");
    run.error = String("error");
    run.duration_seconds = Number("duration_seconds", false, true).value_or(0);
    run.backup_file = String("backup_file");
    run.backup_timestamp = Number("backup_timestamp", false, false);
    run.backup_format = String("backup_format");
    run.restored_users = Number("restored_users", true, false);
    run.backup_users = Number("backup_users", true, false);
    run.live_users = Number("live_users", true, false);
    run.target = String("target");
    if (problem_) return Fail(*problem_);
    return run;
  }

 private:
  const Json* Field(const std::string& key, bool required) {
    const auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) {
      if (required) Wrong(key, "is missing");
      return nullptr;
    }
    return &*it;
  }

  std::optional<double> Number(const std::string& key, bool whole, bool required) {
    const Json* field = Field(key, required);
    if (!field) return std::nullopt;
    if (!field->is_number()) {
      Wrong(key, "must be a number");
      return std::nullopt;
    }
    const double value = field->get<double>();
    if (!std::isfinite(value) || value < 0) {
      Wrong(key, "must be a finite number, at least 0");
      return std::nullopt;
    }
    if (whole && std::floor(value) != value) {
      Wrong(key, "must be a whole number");
      return std::nullopt;
    }
    return value;
  }

  bool Bool(const std::string& key) {
    const Json* field = Field(key, true);
    if (!field) return false;
    if (!field->is_boolean()) {
      Wrong(key, "must be true or false");
      return false;
    }
    return field->get<bool>();
  }

  std::string String(const std::string& key) {
    const Json* field = Field(key, false);
    if (!field) return "";
    if (!field->is_string()) {
      Wrong(key, "must be a string");
      return "";
    }
    std::string value = field->get<std::string>();
    if (value.size() > kMaxStringBytes) {
      Wrong(key, "is longer than " + std::to_string(kMaxStringBytes) + " bytes");
      return "";
    }
    // It is shown on a health page and in the log: one line, printable.
    for (char& c : value) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    }
    return value;
  }

  void Wrong(const std::string& key, const std::string& what) {
    if (!problem_) problem_ = where_ + "." + key + " " + what;
  }

  const Json& object_;
  std::string where_;
  std::optional<std::string> problem_;
};

}  // namespace

std::string RestoreStateJson(const RestoreState& state) {
  Json out = Json::object();
  out["version"] = kRestoreStateVersion;
  out["last_run"] = RunJson(state.last_run);
  out["last_success"] = state.last_success ? RunJson(*state.last_success) : Json(nullptr);
  return out.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

Result<RestoreState> ParseRestoreState(const std::string& text) {
  // No exceptions: a parse error is a discarded value. nlohmann's parser and
  // destructor are iterative, so deep nesting costs memory, not stack.
  const Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Fail("it is not JSON");
  if (!json.is_object()) return Fail("it is not a JSON object");
  const auto version = json.find("version");
  if (version == json.end() || !version->is_number_integer() ||
      version->get<long long>() != kRestoreStateVersion) {
    return Fail("its \"version\" is not " + std::to_string(kRestoreStateVersion) +
                ": it was written by another release of caloria-restore-test");
  }
  const auto last_run = json.find("last_run");
  if (last_run == json.end() || !last_run->is_object()) {
    return Fail("its \"last_run\" is missing or not an object");
  }
  RestoreState state;
  Result<RestoreRun> run = RunReader(*last_run, "last_run").Read();
  if (!run) return Fail(run.error());
  state.last_run = std::move(*run);
  const auto last_success = json.find("last_success");
  if (last_success != json.end() && !last_success->is_null()) {
    if (!last_success->is_object()) return Fail("its \"last_success\" is not an object or null");
    Result<RestoreRun> success = RunReader(*last_success, "last_success").Read();
    if (!success) return Fail(success.error());
    if (!success->success) return Fail("its last_success.success is false");
    state.last_success = std::move(*success);
  }
  return state;
}

Result<RestoreState> ReadRestoreState(const std::string& path) {
  const Result<std::string> text = ReadBoundedFile(path, kMaxRestoreStateBytes);
  if (!text) {
    return Fail("the restore-test state file " + path + " " + text.error() +
                ": run scripts/caloria-restore-test with --state " + path +
                " and let the exporter's user read it");
  }
  if (text->size() > kMaxRestoreStateBytes) {
    return Fail("the restore-test state file " + path + " is larger than " +
                std::to_string(kMaxRestoreStateBytes / 1024) +
                " KiB: name the file caloria-restore-test writes (--state)");
  }
  Result<RestoreState> state = ParseRestoreState(*text);
  if (!state) {
    return Fail("the restore-test state file " + path + " is not one caloria-restore-test wrote (" +
                state.error() + "): run caloria-restore-test again to replace it");
  }
  return state;
}

Status WriteRestoreState(const std::string& path, const RestoreState& state) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string temp = (folder / ("." + target.filename().string() + ".XXXXXX")).string();
  std::vector<char> name(temp.begin(), temp.end());
  name.push_back('\0');
  const UniqueFd fd(::mkstemp(name.data()));
  if (fd.get() < 0) {
    return Fail("cannot create a temporary file in " + folder.string() + " (" +
                std::strerror(errno) + "): check that the folder exists and is writable");
  }
  temp.assign(name.data());
  const std::string text = RestoreStateJson(state);
  std::size_t written = 0;
  bool ok = ::fchmod(fd.get(), 0644) == 0;
  while (ok && written < text.size()) {
    const ssize_t got = ::write(fd.get(), text.data() + written, text.size() - written);
    if (got < 0 && errno == EINTR) continue;
    ok = got > 0;
    if (ok) written += static_cast<std::size_t>(got);
  }
  ok = ok && ::fsync(fd.get()) == 0;
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(temp.c_str());
    return Fail("cannot write the restore-test state file " + path + " (" + reason +
                "): check the free space and the folder's permissions");
  }
  return {};
}

}  // namespace caloria
