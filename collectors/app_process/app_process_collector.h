#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/app_process/proc_scan.h"
#include "collectors/collector.h"
#include "collectors/registry.h"
#include "collectors/shared_observations.h"
#include "config/database_location.h"

namespace caloria {

// Which processes are the app: the one in a pid file, or those whose command
// line matches a pattern.
struct AppProcessSettings {
  std::optional<std::string> pid_file;  // --app.pid-file
  std::optional<std::string> pattern;   // --app.process
  std::string proc_root = "/proc";
  int self_pid = 0;  // never the app
  ProcLimits limits;
};

// Watches what the running app really does, rather than what its .env says:
// the DATABASE_URL it was started with (/proc/PID/environ), the SQLite files
// it holds open and its TCP connections to the database's port
// (/proc/PID/fd, /proc/PID/net/tcp{,6}). Its verdict goes to
// SharedObservations::app_process for the consistency check.
class AppProcessCollector : public Collector {
 public:
  // The database's endpoint, asked at every run: a reload may move it.
  using EndpointSource = std::function<DatabaseEndpoint()>;

  // A bad pattern is an Error. `published` (may be null) receives each run's
  // AppView.
  static Result<std::unique_ptr<AppProcessCollector>> Create(
      AppProcessSettings settings, EndpointSource endpoint,
      std::shared_ptr<Observed<AppView>> published);

  std::string Name() const override { return "app_process"; }
  CollectorResult Collect(const Deadline& deadline) override;
  LogFields Settings() const override;

 private:
  AppProcessCollector(AppProcessSettings settings, std::optional<ProcessPattern> pattern,
                      EndpointSource endpoint, std::shared_ptr<Observed<AppView>> published);

  AppProcessSettings settings_;
  std::optional<ProcessPattern> pattern_;
  EndpointSource endpoint_;
  std::shared_ptr<Observed<AppView>> published_;
};

// Where the configured database listens: its URL's port (default 5432) and,
// when its host is an IP literal, that address; for a SQLite configuration
// PostgreSQL's default port on any address.
DatabaseEndpoint EndpointFor(const DatabaseLocation& location);

// What the readable processes show, judged: PostgreSQL when they hold
// connections to the endpoint; SQLite when they hold a SQLite database open
// and no such connection; else the type of the DATABASE_URL they were started
// with; else unknown (database_type nullopt: no DATABASE_URL in the
// environment is no evidence, load_dotenv() may set it later inside the
// process). nullopt when no process could be read.
std::optional<AppView> JudgeAppProcesses(const std::vector<ProcessFacts>& processes,
                                         const DatabaseEndpoint& endpoint);

// --[no-]collector.app_process, --app.pid-file and --app.process.
CollectorSpec AppProcessCollectorSpec();

}  // namespace caloria
