#include "config/targets_file.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "config/yaml_document.h"
#include "core/bounded_file.h"

namespace caloria {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxNameLength = 64;

// Which targets need which key: each target's own database, and the folders
// and pages that belong to its deployment.
const std::vector<TargetKey> kTargetKeys = {
    {"name", nullptr, false},
    {"url", nullptr, false},
    {"env_file", "app.env-file", true},
    {"url_file", "database.url-file", true},
    {"expected_type", "database.expected-type", false},
    {"sqlite_relative_to", "database.sqlite-relative-to", false},
    {"users_query", "database.users-query", false},
    {"backup_dir", "backup.dir", true},
    {"backup_pattern", "backup.pattern", false},
    {"backup_max_age", "backup.max-age", false},
    {"backup_retention", "backup.retention", false},
    {"backup_log", "backup.log", true},
    {"backup_users_table", "backup.users-table", false},
    {"restore_state_file", "restore.state-file", true},
    {"restore_max_age", "restore.max-age", false},
    {"app_health_url", "app.health-url", false},
    {"app_health_ca_file", "app.health-ca-file", true},
    {"app_pid_file", "app.pid-file", true},
    {"app_process", "app.process", false},
    {"app_users_tolerance", "app.users-tolerance", false},
    {"fallback_sqlite_path", "fallback.sqlite-path", true},
    {"fallback_recent_window", "fallback.recent-window", false},
};

std::string KeyList() {
  std::string list;
  for (const TargetKey& key : kTargetKeys) {
    if (!list.empty()) list += ", ";
    list += key.key;
  }
  return list;
}

// A key as a message shows it: only a plain one, never what might be a
// value pasted in the wrong place.
std::string ShownKey(const std::string& key) {
  const bool plain =
      !key.empty() && key.size() <= 40 && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
      });
  return plain ? "'" + key + "'" : "(a key that is not a plain name, not shown)";
}

class TargetsParser {
 public:
  explicit TargetsParser(const std::string& path)
      : path_(path), dir_(fs::path(path).parent_path()) {}

  Error Bad(const std::string& where, const std::string& problem) const {
    return Fail("--config.file " + path_ + ": " + where + ": " + problem);
  }

  Result<TargetsFile> Parse(const YAML::Node& root) const {
    TargetsFile file{path_, {}};
    if (!root.IsMap()) {
      return Bad("the file", std::string("is a ") + YamlKindName(root) +
                                 ", not a mapping: write `targets:` and one `- name: NAME` entry "
                                 "per target (see deploy/caloria-exporter.example.yml)");
    }
    for (const auto& entry : root) {
      if (!entry.first.IsScalar() || entry.first.Scalar() != "targets") {
        return Bad("the top level",
                   "unknown key " +
                       (entry.first.IsScalar() ? ShownKey(entry.first.Scalar())
                                               : std::string("(not a plain name)")) +
                       ": the file holds only `targets:` (keys are case-sensitive)");
      }
    }
    const YAML::Node targets = root["targets"];
    if (!targets.IsSequence() || targets.size() == 0) {
      return Bad("targets", "is not a list of targets: write one `- name: NAME` entry per target");
    }
    if (targets.size() > kMaxTargets) {
      return Bad("targets", "lists " + std::to_string(targets.size()) + " targets, more than " +
                                std::to_string(kMaxTargets) +
                                ": split them over several exporters");
    }
    std::set<std::string> names;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      Result<TargetSpec> target = ParseTarget(targets[i], i);
      if (!target) return Fail(target.error());
      if (!names.insert(target->name).second) {
        return Bad("target " + target->name, "is named twice: give each target its own name");
      }
      file.targets.push_back(std::move(*target));
    }
    return file;
  }

 private:
  Result<TargetSpec> ParseTarget(const YAML::Node& node, std::size_t index) const {
    std::string where = "target " + std::to_string(index + 1);
    if (!node.IsMap()) {
      return Bad(where, std::string("is a ") + YamlKindName(node) +
                            ", not a mapping: write `- name: NAME` and its settings below it");
    }
    TargetSpec target;
    std::set<std::string> seen;
    // The name first, so that every later message can name the target.
    const YAML::Node name = node["name"];
    if (!name || !name.IsScalar() || !IsTargetName(name.Scalar())) {
      return Bad(where,
                 "needs a name of 1 to 64 letters, digits, '_', '-' or '.' (`name: production`): "
                 "the name is the target label and the ?target= of /probe, never a URL or a host");
    }
    target.name = name.Scalar();
    where = "target " + target.name;
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) return Bad(where, "has a key that is not a plain name");
      const std::string& key = entry.first.Scalar();
      const auto rule = std::find_if(kTargetKeys.begin(), kTargetKeys.end(),
                                     [&](const TargetKey& k) { return key == k.key; });
      if (rule == kTargetKeys.end()) {
        return Bad(where, "unknown key " + ShownKey(key) + ": use " + KeyList() +
                              " (docs/configuration.md#many-targets)");
      }
      if (!seen.insert(key).second) return Bad(where, "'" + key + "' is given twice: keep one");
      if (key == "name") continue;
      if (!entry.second.IsScalar() || entry.second.Scalar().empty()) {
        return Bad(where, "'" + key + "' is not a single non-empty value: write `" + key +
                              ": VALUE` or drop the line");
      }
      const std::string& value = entry.second.Scalar();
      if (key == "url") {
        target.url = Secret(value);
      } else if (rule->path) {
        target.settings.Set(rule->flag, (dir_ / value).lexically_normal().string());
      } else {
        target.settings.Set(rule->flag, value);
      }
    }
    const int databases = static_cast<int>(seen.count("url")) +
                          static_cast<int>(seen.count("env_file")) +
                          static_cast<int>(seen.count("url_file"));
    if (databases == 0) {
      return Bad(where,
                 "names no database: give it env_file (the app's .env), url_file (a file holding "
                 "DATABASE_URL) or url");
    }
    if (seen.count("url") && seen.count("url_file")) {
      return Bad(where, "has both url and url_file: keep one");
    }
    return target;
  }

  std::string path_;
  fs::path dir_;
};

Error TargetsFileTooLarge(const std::string& path) {
  return Fail("--config.file " + path + ": is larger than " +
              std::to_string(kMaxTargetsFileBytes / 1024) +
              " KiB, which no targets file needs: name the right file, or split the targets over "
              "several exporters");
}

}  // namespace

const std::vector<TargetKey>& TargetKeys() { return kTargetKeys; }

bool IsTargetName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxNameLength &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
         });
}

Result<TargetsFile> LoadTargetsFile(const std::string& path) {
  if (path.empty()) return Fail("--config.file is empty: give the targets file's path or drop it");
  std::error_code error;
  const fs::path file = fs::absolute(path, error).lexically_normal();
  if (error) {
    return Fail("--config.file " + path + ": cannot make the path absolute (" + error.message() +
                "): give an absolute path");
  }
  Result<std::string> text = ReadBoundedFile(file.string(), kMaxTargetsFileBytes);
  if (!text) {
    return Fail("--config.file " + file.string() + ": " + text.error() +
                ": check the path and that the exporter's user may read it");
  }
  return ParseTargetsText(*text, file.string());
}

Result<TargetsFile> ParseTargetsText(const std::string& text, const std::string& path) {
  if (text.size() > kMaxTargetsFileBytes) return TargetsFileTooLarge(path);
  Result<YAML::Node> root =
      ParseYamlDocument(text, {"--config.file " + path,
                               "write `targets:` and one `- name: NAME` entry per target (see "
                               "deploy/caloria-exporter.example.yml)",
                               "a targets file is three levels deep"});
  if (!root) return Fail(root.error());
  if (root->IsNull()) {
    return Fail("--config.file " + path +
                ": holds no targets: list them under `targets:` (see "
                "deploy/caloria-exporter.example.yml), or drop --config.file to watch the one "
                "app the flags describe");
  }
  try {
    return TargetsParser(path).Parse(*root);
  } catch (const YAML::Exception& odd) {
    // The parser checks each node's kind before reading it; this is for the
    // case it missed, told without yaml-cpp's text, which may quote a value.
    return Fail("--config.file " + path + ": cannot be read as a targets file near line " +
                std::to_string(odd.mark.line + 1) +
                ": compare it with deploy/caloria-exporter.example.yml");
  }
}

}  // namespace caloria
