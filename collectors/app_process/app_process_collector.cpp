#include "collectors/app_process/app_process_collector.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "core/clock.h"

namespace caloria {
namespace {

constexpr const char* kUnreadableFix =
    "run the exporter as the app's user, or grant CAP_SYS_PTRACE: "
    "AmbientCapabilities=CAP_SYS_PTRACE under systemd";

bool Readable(const ProcessFacts& process) { return !process.gone && !process.unreadable; }

// "pid 12 holds" or "pids 12, 13 hold": the subject of an evidence line.
std::string Subject(const std::vector<int>& pids, const char* singular, const char* plural) {
  std::string text = pids.size() == 1 ? "pid " : "pids ";
  for (std::size_t i = 0; i < pids.size(); ++i) {
    if (i == 5) {
      text += ", ...";
      break;
    }
    text += (i ? ", " : "") + std::to_string(pids[i]);
  }
  return text + " " + (pids.size() == 1 ? singular : plural);
}

std::string Join(const std::set<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

std::string EndpointText(const DatabaseEndpoint& endpoint) {
  if (!endpoint.address) return "port " + std::to_string(endpoint.port);
  const bool v6 = endpoint.host.find(':') != std::string::npos && endpoint.host.front() != '[';
  return (v6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" + std::to_string(endpoint.port);
}

struct Search {
  std::vector<int> pids;
  std::optional<std::string> not_found;  // the problem's message
  std::optional<std::string> error;      // /proc could not be scanned, or not completely
};

Search FindApp(const AppProcessSettings& settings, const std::optional<ProcessPattern>& pattern,
               const Deadline& deadline) {
  Search search;
  if (settings.pid_file) {
    const Result<int> pid = ReadPidFile(*settings.pid_file);
    if (!pid) {
      search.not_found = pid.error();
    } else {
      search.pids.push_back(*pid);
    }
    return search;
  }
  const Result<ProcessSearch> found =
      FindProcesses(settings.proc_root, *pattern, settings.self_pid, settings.limits, deadline);
  if (!found) {
    search.error = found.error();
    return search;
  }
  search.pids = found->pids;
  search.error = found->stopped;
  if (search.pids.empty()) {
    search.not_found = "no process matches --app.process='" + pattern->text() +
                       "' (the exporter itself and other exporters are skipped): the app is "
                       "down, or the pattern is wrong; compare with pgrep -af '" +
                       pattern->text() + "'";
  }
  return search;
}

nlohmann::ordered_json ProcessDetails(const ProcessFacts& process) {
  nlohmann::ordered_json details;
  details["pid"] = process.pid;
  details["program"] = process.program;
  if (process.unreadable) {
    details["database_url_source"] = nullptr;
    details["error"] = *process.unreadable;
    return details;
  }
  details["database_url_source"] = process.has_database_url ? "environ" : "none";
  details["database_url"] =
      process.has_database_url ? nlohmann::ordered_json(process.environ_url) : nullptr;
  details["database_type"] = process.environ_type
                                 ? nlohmann::ordered_json(DatabaseTypeName(*process.environ_type))
                                 : nlohmann::ordered_json(nullptr);
  if (process.has_database_url_file) details["database_url_file"] = true;
  details["sqlite_open"] = process.sqlite_files;
  details["database_connections"] = process.connections;
  if (!process.limits_hit.empty()) details["limits"] = process.limits_hit;
  return details;
}

}  // namespace

DatabaseEndpoint EndpointFor(const DatabaseLocation& location) {
  DatabaseEndpoint endpoint;
  if (location.url.type != DatabaseType::kPostgresql) return endpoint;
  endpoint.port = location.url.port.value_or(5432);
  endpoint.host = location.url.host;
  endpoint.address = ParseIpLiteral(location.url.host);
  return endpoint;
}

std::optional<AppView> JudgeAppProcesses(const std::vector<ProcessFacts>& processes,
                                         const DatabaseEndpoint& endpoint) {
  std::vector<int> readable, connected, on_sqlite, with_url;
  std::set<std::string> files, urls;
  std::set<DatabaseType> environ_types;
  int connections = 0;
  for (const auto& process : processes) {
    if (!Readable(process)) continue;
    readable.push_back(process.pid);
    if (process.connections > 0) connected.push_back(process.pid);
    connections += process.connections;
    if (!process.sqlite_files.empty()) on_sqlite.push_back(process.pid);
    files.insert(process.sqlite_files.begin(), process.sqlite_files.end());
    if (process.environ_type) {
      with_url.push_back(process.pid);
      environ_types.insert(*process.environ_type);
      urls.insert(process.environ_url);
    }
  }
  if (readable.empty()) return std::nullopt;
  const std::string where = EndpointText(endpoint);
  AppView view;
  if (connections > 0) {
    view.database_type = DatabaseType::kPostgresql;
    view.evidence = Subject(connected, "holds", "hold") + " " + std::to_string(connections) +
                    " TCP connection(s) to the database at " + where;
    if (!files.empty()) view.evidence += ", and the SQLite file(s) " + Join(files) + " open";
  } else if (!files.empty()) {
    view.database_type = DatabaseType::kSqlite;
    view.evidence = Subject(on_sqlite, "holds", "hold") + " the SQLite database " + Join(files) +
                    " open and no connection to the database at " + where;
  } else if (environ_types.size() == 1) {
    view.database_type = *environ_types.begin();
    view.evidence = Subject(with_url, "was", "were") + " started with DATABASE_URL=" + Join(urls) +
                    "; no SQLite file open and no connection to " + where + " at the moment";
  } else {
    view.evidence = "no DATABASE_URL the exporter can read in the environment of " +
                    Subject(readable, "(load_dotenv() may still set one inside it),",
                            "(load_dotenv() may still set one inside them),") +
                    " no SQLite file open and no connection to " + where;
  }
  return view;
}

AppProcessCollector::AppProcessCollector(AppProcessSettings settings,
                                         std::optional<ProcessPattern> pattern,
                                         EndpointSource endpoint,
                                         std::shared_ptr<Observed<AppView>> published)
    : settings_(std::move(settings)),
      pattern_(std::move(pattern)),
      endpoint_(std::move(endpoint)),
      published_(std::move(published)) {}

Result<std::unique_ptr<AppProcessCollector>> AppProcessCollector::Create(
    AppProcessSettings settings, EndpointSource endpoint,
    std::shared_ptr<Observed<AppView>> published) {
  std::optional<ProcessPattern> pattern;
  if (settings.pid_file.has_value() == settings.pattern.has_value()) {
    return Fail("give exactly one of --app.pid-file and --app.process");
  }
  if (settings.pattern) {
    Result<ProcessPattern> compiled = ProcessPattern::Compile(*settings.pattern);
    if (!compiled) return Fail(compiled.error());
    pattern = std::move(*compiled);
  }
  return std::unique_ptr<AppProcessCollector>(new AppProcessCollector(
      std::move(settings), std::move(pattern), std::move(endpoint), std::move(published)));
}

CollectorResult AppProcessCollector::Collect(const Deadline& deadline) {
  const DatabaseEndpoint endpoint = endpoint_();
  Search search = FindApp(settings_, pattern_, deadline);
  std::vector<ProcessFacts> processes;
  for (const int pid : search.pids) {
    ProcessFacts facts =
        InspectProcess(settings_.proc_root, pid, endpoint, settings_.limits, deadline);
    if (!facts.gone) processes.push_back(std::move(facts));
  }
  if (processes.empty() && !search.not_found && !search.pids.empty()) {
    search.not_found = settings_.pid_file
                           ? "the pid file " + *settings_.pid_file + " names pid " +
                                 std::to_string(search.pids.front()) +
                                 ", which is not running: the app is down, or the pid file is "
                                 "stale"
                           : "the app's processes exited while they were read: the app is "
                             "restarting or down";
  }
  const std::optional<AppView> view = JudgeAppProcesses(processes, endpoint);
  if (published_) published_->Set(view);

  CollectorResult result;
  result.families.push_back(SingleGauge(
      "caloria_app_process_up",
      "Whether the app's process was found (1: --app.pid-file names a running process, or "
      "--app.process matches one) or not (0).",
      processes.empty() ? 0 : 1));
  result.families.push_back(SingleGauge("caloria_app_process_matched",
                                        "How many processes are the app's (those inspected).",
                                        static_cast<double>(processes.size())));

  std::set<std::pair<std::string, std::string>> infos;  // (type, source)
  std::set<std::string> files;
  int connections = 0;
  const ProcessFacts* unreadable = nullptr;
  for (const auto& process : processes) {
    if (!Readable(process)) {
      if (!unreadable) unreadable = &process;
      continue;
    }
    const std::string type =
        process.environ_type ? DatabaseTypeName(*process.environ_type) : "unknown";
    infos.emplace(type, process.has_database_url ? "environ" : "none");
    files.insert(process.sqlite_files.begin(), process.sqlite_files.end());
    connections += process.connections;
  }
  if (view) {
    auto info = GaugeFamily("caloria_app_process_database_info",
                            "The database the app's process was started with: type from the "
                            "DATABASE_URL in its environment (source=\"environ\"), or "
                            "type=\"unknown\", source=\"none\" without one. Always 1.");
    for (const auto& [type, source] : infos)
      AddGauge(info, 1, {{"source", source}, {"type", type}});
    result.families.push_back(std::move(info));
    auto open = GaugeFamily("caloria_app_process_sqlite_open",
                            "1 for each SQLite database file the app's process holds open.");
    for (const auto& file : files) AddGauge(open, 1, {{"path", file}});
    if (!open.metric.empty()) result.families.push_back(std::move(open));
    result.families.push_back(SingleGauge(
        "caloria_app_process_database_connections",
        "Established TCP connections the app's process holds to the database's port (and "
        "address, when the URL's host is an IP literal).",
        connections));
  }

  HealthCheck check;
  check.name = "app_process";
  if (search.not_found) {
    result.problems.push_back(
        {"app_process_not_found", *search.not_found, HealthStatus::kDegraded});
    result.error = *search.not_found;
  }
  if (unreadable) {
    const std::string message = *unreadable->unreadable + ": " + kUnreadableFix;
    result.problems.push_back({"app_process_unreadable", message, HealthStatus::kDegraded});
    result.error = message;
  }
  if (search.error && !result.error) result.error = *search.error;
  check.status =
      result.problems.empty() && !search.error ? HealthStatus::kHealthy : HealthStatus::kDegraded;
  auto& details = check.details;
  details["status"] = HealthStatusName(check.status);
  details["timestamp"] = FormatIsoMicros(std::chrono::system_clock::now());
  if (settings_.pid_file) {
    details["pid_file"] = *settings_.pid_file;
  } else {
    details["pattern"] = pattern_->text();
  }
  details["matched"] = processes.size();
  details["database_type"] = view && view->database_type
                                 ? nlohmann::ordered_json(DatabaseTypeName(*view->database_type))
                                 : nlohmann::ordered_json(nullptr);
  details["evidence"] = view ? nlohmann::ordered_json(view->evidence) : nullptr;
  details["database_endpoint"] = EndpointText(endpoint);
  details["database_connections"] = view ? nlohmann::ordered_json(connections) : nullptr;
  details["sqlite_open"] = files;
  auto list = nlohmann::ordered_json::array();
  for (const auto& process : processes) list.push_back(ProcessDetails(process));
  details["processes"] = std::move(list);
  if (result.error) details["error"] = *result.error;
  if (!result.problems.empty()) {
    auto problems = nlohmann::ordered_json::array();
    for (const auto& problem : result.problems) problems.push_back(problem.message);
    details["problems"] = std::move(problems);
  }
  result.checks.push_back(std::move(check));
  return result;
}

LogFields AppProcessCollector::Settings() const {
  if (settings_.pid_file) return {{"app_pid_file", *settings_.pid_file}};
  return {{"app_process", pattern_->text()}};
}

namespace {

Result<AppProcessSettings> SettingsFromFlags(const FlagValues& flags) {
  AppProcessSettings settings;
  settings.pid_file = flags.Get("app.pid-file");
  settings.pattern = flags.Get("app.process");
  if (settings.pid_file && settings.pattern) {
    return Fail(
        "--app.pid-file and --app.process are both given: give one (the pid file when "
        "the app's server writes one)");
  }
  if (settings.pid_file && settings.pid_file->empty()) {
    return Fail("--app.pid-file is empty: give the app's pid file, e.g. /run/caloria/gunicorn.pid");
  }
  if (settings.pattern) {
    if (Result<ProcessPattern> pattern = ProcessPattern::Compile(*settings.pattern); !pattern) {
      return Fail(pattern.error());
    }
  }
  settings.self_pid = static_cast<int>(::getpid());
  return settings;
}

}  // namespace

CollectorSpec AppProcessCollectorSpec() {
  CollectorSpec spec;
  spec.name = "app_process";
  // It reads the configuration in force, which the config collector reloads
  // first in each poll when a file behind it changed.
  spec.runs_after = {"config"};
  spec.title = "App process collector";
  spec.help =
      "Watch the app's running process through /proc: the DATABASE_URL it was started with, "
      "the SQLite files it holds open, its connections to the database (needs --app.pid-file "
      "or --app.process)";
  spec.flags = {
      {"app.pid-file", "PATH",
       "The app's pid file (e.g. gunicorn --pid): watch that process. Not with --app.process."},
      {"app.process", "REGEX",
       "POSIX extended regular expression matched against each process's command line (e.g. "
       "gunicorn.*caloria): watch the processes it matches."},
  };
  spec.check_flags = [](const FlagValues& flags) -> Status {
    const Result<AppProcessSettings> settings = SettingsFromFlags(flags);
    return settings ? Status() : Fail(settings.error());
  };
  spec.make = [](const CollectorContext& context) -> Result<std::unique_ptr<Collector>> {
    Result<AppProcessSettings> settings = SettingsFromFlags(context.config.flags);
    if (!settings) return Fail(settings.error());
    if (!settings->pid_file && !settings->pattern) {
      return std::unique_ptr<Collector>();  // nothing to watch
    }
    const ConfigStore& store = context.store;
    auto collector = AppProcessCollector::Create(
        std::move(*settings), [&store] { return EndpointFor(store.Latest()->database); },
        context.shared.app_process);
    if (!collector) return Fail(collector.error());
    return std::unique_ptr<Collector>(std::move(*collector));
  };
  return spec;
}

}  // namespace caloria
