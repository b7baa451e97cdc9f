#include "collectors/app_process/app_process_collector.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "collectors/config_collector.h"
#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using ::caloria::testing::TempDir;
using std::chrono::milliseconds;
using std::chrono::seconds;

Deadline Generous() { return Deadline::After(seconds(10)); }

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A SQLite database with a users table of `users` rows.
std::string MakeSqlite(const TempDir& dir, const std::string& name, int users = 2) {
  const std::string path = dir.File(name);
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::string sql = "CREATE TABLE users (id INTEGER PRIMARY KEY);";
  for (int i = 0; i < users; ++i) sql += "INSERT INTO users DEFAULT VALUES;";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  return path;
}

// A descriptor the test opens for the app to inherit: no O_CLOEXEC.
class InheritedFd {
 public:
  explicit InheritedFd(int fd) : fd_(fd) { EXPECT_GE(fd_, 0); }
  ~InheritedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  InheritedFd(const InheritedFd&) = delete;
  InheritedFd& operator=(const InheritedFd&) = delete;

 private:
  int fd_;
};

// A listening TCP socket on 127.0.0.1 playing the database: the kernel
// completes the handshakes, nobody answers.
class FakeDatabase {
 public:
  FakeDatabase() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
    EXPECT_EQ(::listen(fd_, 16), 0);
  }
  ~FakeDatabase() { ::close(fd_); }
  FakeDatabase(const FakeDatabase&) = delete;
  FakeDatabase& operator=(const FakeDatabase&) = delete;

  int port() const { return port_; }
  // A connection to it, for the app to inherit (no O_CLOEXEC).
  int Connect() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port_));
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    return fd;
  }
  DatabaseEndpoint Endpoint(const std::string& host = "127.0.0.1") const {
    return {port_, ParseIpLiteral(host), host};
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// The app: /bin/sleep under a unique argv[0], started with the given
// environment, holding every descriptor the test holds without O_CLOEXEC.
class FakeApp {
 public:
  explicit FakeApp(std::vector<std::string> environment) {
    static std::atomic<int> counter{0};
    marker_ = "caloria-test-app-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    std::vector<char*> argv{marker_.data(), const_cast<char*>("30"), nullptr};
    std::vector<char*> envp;
    for (auto& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execve("/bin/sleep", argv.data(), envp.data());
      ::_exit(127);
    }
    EXPECT_GT(pid_, 0);
    // Until it has called execve, /proc shows the test's own process image.
    const auto until = std::chrono::steady_clock::now() + seconds(5);
    while (ReadFile("/proc/" + std::to_string(pid_) + "/cmdline").rfind(marker_, 0) != 0) {
      if (std::chrono::steady_clock::now() > until) {
        ADD_FAILURE() << "the fake app did not start";
        break;
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
  }
  ~FakeApp() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  FakeApp(const FakeApp&) = delete;
  FakeApp& operator=(const FakeApp&) = delete;

  int pid() const { return pid_; }
  const std::string& marker() const { return marker_; }

 private:
  std::string marker_;
  pid_t pid_ = -1;
};

const char* kPostgresUrl = "DATABASE_URL=postgresql://caloria:hunter2@127.0.0.1:5432/caloria";

struct Seen {
  CollectorResult result;
  std::optional<AppView> view;
  bool published = false;
};

Seen CollectWith(AppProcessSettings settings, const DatabaseEndpoint& endpoint,
                 Deadline deadline = Generous()) {
  settings.self_pid = static_cast<int>(::getpid());
  auto published = std::make_shared<Observed<AppView>>();
  published->Set(AppView{std::nullopt, "stale", std::nullopt});
  auto collector = AppProcessCollector::Create(
      std::move(settings), [endpoint] { return endpoint; }, published);
  EXPECT_TRUE(collector.ok()) << collector.error();
  Seen run;
  run.result = (*collector)->Collect(deadline);
  run.view = published->Get();
  run.published = !(run.view && run.view->evidence == "stale");
  return run;
}

AppProcessSettings ByPattern(const std::string& pattern) {
  AppProcessSettings settings;
  settings.pattern = pattern;
  return settings;
}

const prometheus::MetricFamily* Family(const CollectorResult& result, const std::string& name) {
  for (const auto& family : result.families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

std::optional<double> Gauge(const CollectorResult& result, const std::string& name) {
  const auto* family = Family(result, name);
  if (!family || family->metric.size() != 1) return std::nullopt;
  return family->metric.front().gauge.value;
}

std::string Label(const prometheus::ClientMetric& metric, const std::string& name) {
  for (const auto& label : metric.label) {
    if (label.name == name) return label.value;
  }
  return "";
}

bool HasProblem(const CollectorResult& result, const std::string& check) {
  for (const auto& problem : result.problems) {
    if (problem.check == check) return true;
  }
  return false;
}

const nlohmann::ordered_json& Details(const CollectorResult& result) {
  static const nlohmann::ordered_json kNone;
  for (const auto& check : result.checks) {
    if (check.name == "app_process") return check.details;
  }
  ADD_FAILURE() << "no app_process check";
  return kNone;
}

// ---- the pattern and the pid file ----------------------------------------------------

TEST(ProcessPattern, CompilesPosixExtendedPatternsAndMatchesCommandLines) {
  const auto pattern = ProcessPattern::Compile("gunicorn.*caloria");
  ASSERT_TRUE(pattern.ok()) << pattern.error();
  EXPECT_TRUE(pattern->Matches("/srv/venv/bin/gunicorn -w 4 caloria:app"));
  EXPECT_FALSE(pattern->Matches("/usr/bin/python3 manage.py"));
  EXPECT_TRUE(ProcessPattern::Compile("(gunicorn|uwsgi) .*app[.]py$")->Matches("uwsgi x app.py"));
}

TEST(ProcessPattern, RefusesBadEmptyAndBackReferencePatternsWithTheFix) {
  const auto bad = ProcessPattern::Compile("gunicorn(");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("--app.process='gunicorn('"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find("e.g. gunicorn.*caloria"), std::string::npos) << bad.error();
  EXPECT_FALSE(ProcessPattern::Compile("").ok());
  EXPECT_FALSE(ProcessPattern::Compile("(a*)\\1").ok());
  EXPECT_TRUE(ProcessPattern::Compile("a\\\\1").ok());  // an escaped backslash, then 1
  EXPECT_FALSE(ProcessPattern::Compile(std::string(2000, 'a')).ok());
}

TEST(ReadPidFile, ReadsADecimalPidAndRefusesAnythingElse) {
  TempDir dir;
  WriteFile(dir.File("ok.pid"), "  4242\n");
  EXPECT_EQ(*ReadPidFile(dir.File("ok.pid")), 4242);
  for (const char* text : {"", "abc", "12 13", "-5", "0", "99999999999999999999"}) {
    WriteFile(dir.File("bad.pid"), text);
    const auto pid = ReadPidFile(dir.File("bad.pid"));
    ASSERT_FALSE(pid.ok()) << text;
    EXPECT_NE(pid.error().find("does not hold a process id"), std::string::npos) << pid.error();
  }
  WriteFile(dir.File("long.pid"), std::string(100, '1'));
  EXPECT_FALSE(ReadPidFile(dir.File("long.pid")).ok());
  const auto missing = ReadPidFile(dir.File("missing.pid"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("cannot read the pid file"), std::string::npos);
}

// ---- the /proc scan, on a tree made for the test ----------------------------------

void FakeProcess(const TempDir& proc, int pid, const std::string& cmdline) {
  std::filesystem::create_directories(proc.File(std::to_string(pid)));
  WriteFile(proc.File(std::to_string(pid) + "/cmdline"), cmdline);
}

TEST(FindProcesses, MatchesCommandLinesSkippingItselfExportersAndKernelThreads) {
  using namespace std::string_literals;
  TempDir proc;
  FakeProcess(proc, 300, "gunicorn\0caloria:app\0"s);
  FakeProcess(proc, 20, "gunicorn: worker [caloria:app]"s);
  FakeProcess(proc, 400, "caloria_exporter\0--app.process=gunicorn.*caloria\0"s);
  FakeProcess(proc, 500, ""s);                         // a kernel thread
  FakeProcess(proc, 600, "gunicorn\0caloria:app\0"s);  // the exporter itself, say
  FakeProcess(proc, 700, "nginx: worker"s);
  std::filesystem::create_directories(proc.File("self"));
  std::filesystem::create_directories(proc.File("12x"));
  const auto pattern = ProcessPattern::Compile("gunicorn.*caloria");
  const auto found = FindProcesses(proc.Path(), *pattern, 600, ProcLimits{}, Generous());
  ASSERT_TRUE(found.ok()) << found.error();
  EXPECT_EQ(found->pids, (std::vector<int>{20, 300}));
  EXPECT_FALSE(found->stopped.has_value());
}

TEST(FindProcesses, StopsAtItsLimitsAndTheDeadlineAndSaysSo) {
  using namespace std::string_literals;
  TempDir proc;
  for (int pid = 1; pid <= 5; ++pid) FakeProcess(proc, pid, "gunicorn caloria"s);
  const auto pattern = ProcessPattern::Compile("caloria");
  ProcLimits few_entries;
  few_entries.max_entries = 2;
  auto found = FindProcesses(proc.Path(), *pattern, 0, few_entries, Generous());
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->pids.size(), 2u);
  ASSERT_TRUE(found->stopped.has_value());
  EXPECT_NE(found->stopped->find("--app.pid-file"), std::string::npos) << *found->stopped;

  ProcLimits few_matches;
  few_matches.max_processes = 3;
  found = FindProcesses(proc.Path(), *pattern, 0, few_matches, Generous());
  EXPECT_EQ(found->pids.size(), 3u);
  ASSERT_TRUE(found->stopped.has_value());
  EXPECT_NE(found->stopped->find("narrower"), std::string::npos) << *found->stopped;

  found = FindProcesses(proc.Path(), *pattern, 0, ProcLimits{}, Deadline::After(seconds(-1)));
  EXPECT_TRUE(found->pids.empty());
  ASSERT_TRUE(found->stopped.has_value());
  EXPECT_NE(found->stopped->find("ran out of time"), std::string::npos) << *found->stopped;

  EXPECT_FALSE(FindProcesses(proc.File("missing"), *pattern, 0, ProcLimits{}, Generous()).ok());
}

// ---- one real process -------------------------------------------------------------------

// The test's copies of the descriptors are closed when each helper returns:
// only the app holds them then.
std::unique_ptr<FakeApp> StartApp(std::vector<std::string> environment,
                                  const std::vector<std::string>& open_files,
                                  const FakeDatabase* database = nullptr, int connections = 0) {
  std::vector<std::unique_ptr<InheritedFd>> fds;
  for (const auto& path : open_files) {
    fds.push_back(std::make_unique<InheritedFd>(::open(path.c_str(), O_RDONLY)));
  }
  for (int i = 0; i < connections; ++i) {
    fds.push_back(std::make_unique<InheritedFd>(database->Connect()));
  }
  return std::make_unique<FakeApp>(std::move(environment));
}

TEST(InspectProcess, ReadsTheEnvironmentTheOpenSqliteFileAndTheDatabaseConnections) {
  TempDir dir;
  FakeDatabase database;
  const std::string db_path = MakeSqlite(dir, "caloria.db");
  WriteFile(dir.File("caloria.db-wal"), std::string(64, 'w'));
  WriteFile(dir.File("gunicorn.log"), "SQLite format 2 and other text\n");
  WriteFile(dir.File("fresh.sqlite3"), "");  // just created, nothing written yet
  WriteFile(dir.File("notes.db"), "plain text, not a database at all\n");
  const auto app = StartApp({"PATH=/usr/bin", kPostgresUrl, "FLASK_ENV=production"},
                            {db_path, dir.File("caloria.db-wal"), dir.File("gunicorn.log"),
                             dir.File("fresh.sqlite3"), dir.File("notes.db")},
                            &database, 2);

  const ProcessFacts facts =
      InspectProcess("/proc", app->pid(), database.Endpoint(), ProcLimits{}, Generous());
  EXPECT_FALSE(facts.gone);
  ASSERT_FALSE(facts.unreadable.has_value()) << *facts.unreadable;
  EXPECT_EQ(facts.program, app->marker());
  EXPECT_TRUE(facts.has_database_url);
  EXPECT_EQ(facts.environ_type, DatabaseType::kPostgresql);
  EXPECT_EQ(facts.environ_url, "postgresql://caloria:***@127.0.0.1:5432/caloria");
  EXPECT_EQ(facts.sqlite_files, (std::vector<std::string>{db_path, dir.File("fresh.sqlite3")}));
  EXPECT_EQ(facts.connections, 2);
  EXPECT_TRUE(facts.limits_hit.empty());

  // Another address, or another port, is another database.
  EXPECT_EQ(
      InspectProcess("/proc", app->pid(), database.Endpoint("127.0.0.2"), ProcLimits{}, Generous())
          .connections,
      0);
  DatabaseEndpoint any_address{database.port(), std::nullopt, "db.internal"};
  EXPECT_EQ(InspectProcess("/proc", app->pid(), any_address, ProcLimits{}, Generous()).connections,
            2);
  DatabaseEndpoint other_port{database.port() + 1, std::nullopt, ""};
  EXPECT_EQ(InspectProcess("/proc", app->pid(), other_port, ProcLimits{}, Generous()).connections,
            0);
}

TEST(InspectProcess, AProcessWithoutDatabaseUrlHasNone) {
  const auto app = StartApp({"PATH=/usr/bin", "DATABASE_URL=", "DATABASE_URL_FILE=/run/url"}, {});
  const ProcessFacts facts =
      InspectProcess("/proc", app->pid(), DatabaseEndpoint{}, ProcLimits{}, Generous());
  ASSERT_FALSE(facts.unreadable.has_value());
  EXPECT_FALSE(facts.has_database_url);  // empty counts as unset, as in the app
  EXPECT_TRUE(facts.has_database_url_file);
  EXPECT_FALSE(facts.environ_type.has_value());
  EXPECT_TRUE(facts.sqlite_files.empty());
  EXPECT_EQ(facts.connections, 0);
}

TEST(InspectProcess, AnUnparsableUrlIsReportedWithoutItsPassword) {
  const auto app = StartApp({"DATABASE_URL=mysql://caloria:hunter2@db/caloria"}, {});
  const ProcessFacts facts =
      InspectProcess("/proc", app->pid(), DatabaseEndpoint{}, ProcLimits{}, Generous());
  EXPECT_TRUE(facts.has_database_url);
  EXPECT_FALSE(facts.environ_type.has_value());
  EXPECT_NE(facts.environ_url.find("unparsable"), std::string::npos) << facts.environ_url;
  EXPECT_EQ(facts.environ_url.find("hunter2"), std::string::npos) << facts.environ_url;
}

TEST(InspectProcess, StopsReadingDescriptorsAtItsLimit) {
  TempDir dir;
  const std::string db_path = MakeSqlite(dir, "caloria.db");
  const auto app = StartApp({}, {db_path});
  ProcLimits limits;
  limits.max_fds = 1;
  limits.max_environ = 0;
  const ProcessFacts facts =
      InspectProcess("/proc", app->pid(), DatabaseEndpoint{}, limits, Generous());
  EXPECT_EQ(facts.limits_hit.size(), 1u);  // the empty environment fits in 0 bytes
  limits.max_fds = 100;
  const ProcessFacts expired =
      InspectProcess("/proc", app->pid(), DatabaseEndpoint{}, limits, Deadline::After(seconds(-1)));
  EXPECT_TRUE(expired.sqlite_files.empty());
  ASSERT_FALSE(expired.limits_hit.empty());
  EXPECT_NE(expired.limits_hit.back().find("deadline"), std::string::npos);
}

TEST(InspectProcess, AProcessThatIsGoneIsGone) {
  const ProcessFacts facts =
      InspectProcess("/proc", 0x3fffffff, DatabaseEndpoint{}, ProcLimits{}, Generous());
  EXPECT_TRUE(facts.gone);
  EXPECT_FALSE(facts.unreadable.has_value());
}

// ---- the verdict --------------------------------------------------------------------------

ProcessFacts Facts(int pid, std::optional<DatabaseType> environ, std::vector<std::string> files,
                   int connections) {
  ProcessFacts facts;
  facts.pid = pid;
  facts.has_database_url = environ.has_value();
  facts.environ_type = environ;
  if (environ) facts.environ_url = DatabaseTypeName(*environ) + "://...";
  facts.sqlite_files = std::move(files);
  facts.connections = connections;
  return facts;
}

TEST(JudgeAppProcesses, ConnectionsMeanPostgresqlEvenWithASqliteFileOpen) {
  const DatabaseEndpoint endpoint{5432, std::nullopt, ""};
  const auto view = JudgeAppProcesses(
      {Facts(10, std::nullopt, {}, 0), Facts(11, std::nullopt, {"/a/caloria.db"}, 3)}, endpoint);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->database_type, DatabaseType::kPostgresql);
  EXPECT_NE(view->evidence.find("pid 11 holds 3 TCP connection(s)"), std::string::npos)
      << view->evidence;
  EXPECT_NE(view->evidence.find("/a/caloria.db"), std::string::npos) << view->evidence;
  EXPECT_FALSE(view->users.has_value());
}

TEST(JudgeAppProcesses, ASqliteFileOpenWithoutConnectionsMeansSqliteWhateverTheEnvironment) {
  const auto view = JudgeAppProcesses(
      {Facts(10, DatabaseType::kPostgresql, {"/srv/caloria/instance/caloria.db"}, 0)},
      DatabaseEndpoint{});
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->database_type, DatabaseType::kSqlite);
  EXPECT_NE(view->evidence.find("/srv/caloria/instance/caloria.db open"), std::string::npos)
      << view->evidence;
}

TEST(JudgeAppProcesses, OtherwiseTheEnvironmentsUrlElseUnknown) {
  auto view = JudgeAppProcesses(
      {Facts(10, DatabaseType::kPostgresql, {}, 0), Facts(11, DatabaseType::kPostgresql, {}, 0)},
      DatabaseEndpoint{});
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->database_type, DatabaseType::kPostgresql);
  EXPECT_NE(view->evidence.find("pids 10, 11 were started with DATABASE_URL="), std::string::npos)
      << view->evidence;

  view = JudgeAppProcesses({Facts(10, std::nullopt, {}, 0)}, DatabaseEndpoint{});
  ASSERT_TRUE(view.has_value());
  EXPECT_FALSE(view->database_type.has_value());
  EXPECT_NE(view->evidence.find("load_dotenv()"), std::string::npos) << view->evidence;

  // Processes that disagree say nothing by their environment alone.
  view = JudgeAppProcesses(
      {Facts(10, DatabaseType::kPostgresql, {}, 0), Facts(11, DatabaseType::kSqlite, {}, 0)},
      DatabaseEndpoint{});
  EXPECT_FALSE(view->database_type.has_value());
}

TEST(JudgeAppProcesses, NothingReadableIsNoView) {
  ProcessFacts unreadable = Facts(10, std::nullopt, {}, 0);
  unreadable.unreadable = "cannot read /proc/10/environ of pid 10 (Permission denied)";
  EXPECT_FALSE(JudgeAppProcesses({unreadable}, DatabaseEndpoint{}).has_value());
  EXPECT_FALSE(JudgeAppProcesses({}, DatabaseEndpoint{}).has_value());
}

TEST(EndpointFor, IsTheConfiguredPostgresqlPortAndIpAddressElse5432) {
  DatabaseLocation location;
  location.url = *ParseSqlalchemyUrl("postgresql://u:p@10.1.2.3:6543/caloria");
  DatabaseEndpoint endpoint = EndpointFor(location);
  EXPECT_EQ(endpoint.port, 6543);
  EXPECT_EQ(endpoint.address, ParseIpLiteral("10.1.2.3"));
  location.url = *ParseSqlalchemyUrl("postgresql://u:p@db.internal/caloria");
  endpoint = EndpointFor(location);
  EXPECT_EQ(endpoint.port, 5432);
  EXPECT_FALSE(endpoint.address.has_value());  // host names are not resolved
  location.url = *ParseSqlalchemyUrl("sqlite:///caloria.db");
  endpoint = EndpointFor(location);
  EXPECT_EQ(endpoint.port, 5432);
  EXPECT_FALSE(endpoint.address.has_value());
}

// ---- the collector --------------------------------------------------------------------------

TEST(AppProcessCollector, AnAppOnSqliteWithoutDatabaseUrlIsSeenAsSqlite) {
  TempDir dir;
  const std::string db_path = MakeSqlite(dir, "caloria.db");
  const auto app = StartApp({"PATH=/usr/bin"}, {db_path});
  const Seen run = CollectWith(ByPattern(app->marker()), DatabaseEndpoint{});
  const CollectorResult& result = run.result;
  EXPECT_FALSE(result.error.has_value()) << *result.error;
  EXPECT_TRUE(result.problems.empty());
  EXPECT_EQ(Gauge(result, "caloria_app_process_up"), 1.0);
  EXPECT_EQ(Gauge(result, "caloria_app_process_matched"), 1.0);
  EXPECT_EQ(Gauge(result, "caloria_app_process_database_connections"), 0.0);
  const auto* info = Family(result, "caloria_app_process_database_info");
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->metric.size(), 1u);
  EXPECT_EQ(Label(info->metric[0], "type"), "unknown");
  EXPECT_EQ(Label(info->metric[0], "source"), "none");
  const auto* open = Family(result, "caloria_app_process_sqlite_open");
  ASSERT_NE(open, nullptr);
  ASSERT_EQ(open->metric.size(), 1u);
  EXPECT_EQ(Label(open->metric[0], "path"), db_path);

  ASSERT_TRUE(run.view.has_value());
  EXPECT_EQ(run.view->database_type, DatabaseType::kSqlite);

  const auto& details = Details(result);
  EXPECT_EQ(details["status"], "healthy");
  EXPECT_EQ(details["pattern"], app->marker());
  EXPECT_EQ(details["matched"], 1);
  EXPECT_EQ(details["database_type"], "sqlite");
  EXPECT_EQ(details["database_endpoint"], "port 5432");
  EXPECT_EQ(details["sqlite_open"], nlohmann::ordered_json::array({db_path}));
  ASSERT_EQ(details["processes"].size(), 1u);
  EXPECT_EQ(details["processes"][0]["pid"], app->pid());
  EXPECT_EQ(details["processes"][0]["program"], app->marker());
  EXPECT_EQ(details["processes"][0]["database_url_source"], "none");
}

TEST(AppProcessCollector, AnAppConnectedToTheDatabaseIsSeenAsPostgresqlWithoutItsPassword) {
  TempDir dir;
  FakeDatabase database;
  const auto app = StartApp({kPostgresUrl}, {}, &database, 3);
  WriteFile(dir.File("app.pid"), std::to_string(app->pid()) + "\n");
  AppProcessSettings settings;
  settings.pid_file = dir.File("app.pid");
  const Seen run = CollectWith(settings, database.Endpoint());
  const CollectorResult& result = run.result;
  EXPECT_FALSE(result.error.has_value()) << *result.error;
  EXPECT_EQ(Gauge(result, "caloria_app_process_database_connections"), 3.0);
  EXPECT_EQ(Family(result, "caloria_app_process_sqlite_open"), nullptr);
  const auto* info = Family(result, "caloria_app_process_database_info");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(Label(info->metric.at(0), "type"), "postgresql");
  EXPECT_EQ(Label(info->metric.at(0), "source"), "environ");
  ASSERT_TRUE(run.view.has_value());
  EXPECT_EQ(run.view->database_type, DatabaseType::kPostgresql);

  const auto& details = Details(result);
  EXPECT_EQ(details["pid_file"], dir.File("app.pid"));
  EXPECT_EQ(details["database_connections"], 3);
  EXPECT_EQ(details["database_endpoint"], "127.0.0.1:" + std::to_string(database.port()));
  const std::string text = details.dump();
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_NE(text.find("postgresql://caloria:***@127.0.0.1:5432/caloria"), std::string::npos)
      << text;
}

TEST(AppProcessCollector, NoMatchingProcessIsAProblemAndNoView) {
  const Seen run = CollectWith(ByPattern("caloria-no-such-app-[0-9]{12}"), DatabaseEndpoint{});
  EXPECT_TRUE(HasProblem(run.result, "app_process_not_found"));
  ASSERT_TRUE(run.result.error.has_value());
  EXPECT_NE(run.result.error->find("the app is down, or the pattern is wrong"), std::string::npos);
  EXPECT_EQ(Gauge(run.result, "caloria_app_process_up"), 0.0);
  EXPECT_EQ(Gauge(run.result, "caloria_app_process_matched"), 0.0);
  EXPECT_EQ(Family(run.result, "caloria_app_process_database_info"), nullptr);
  EXPECT_TRUE(run.published);
  EXPECT_FALSE(run.view.has_value());
  EXPECT_EQ(Details(run.result)["status"], "degraded");
}

TEST(AppProcessCollector, APidFileNamingAnExitedProcessIsNotFound) {
  TempDir dir;
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  WriteFile(dir.File("app.pid"), std::to_string(child));
  AppProcessSettings settings;
  settings.pid_file = dir.File("app.pid");
  Seen run = CollectWith(settings, DatabaseEndpoint{});
  EXPECT_TRUE(HasProblem(run.result, "app_process_not_found"));
  ASSERT_TRUE(run.result.error.has_value());
  EXPECT_NE(run.result.error->find("stale"), std::string::npos) << *run.result.error;
  EXPECT_FALSE(run.view.has_value());

  settings.pid_file = dir.File("missing.pid");
  run = CollectWith(settings, DatabaseEndpoint{});
  EXPECT_TRUE(HasProblem(run.result, "app_process_not_found"));
  EXPECT_EQ(Gauge(run.result, "caloria_app_process_up"), 0.0);
}

TEST(AppProcessCollector, AScanOutOfTimeIsACollectorErrorNotAHang) {
  const auto start = std::chrono::steady_clock::now();
  const Seen run =
      CollectWith(ByPattern("caloria"), DatabaseEndpoint{}, Deadline::After(seconds(-1)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(2));
  ASSERT_TRUE(run.result.error.has_value());
}

// Another user's process, without CAP_SYS_PTRACE: the exporter runs as
// nobody (in a forked child) and watches the test's own app, owned by root.
TEST(AppProcessCollector, AnotherUsersProcessIsUnreadableWithTheFix) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to become nobody and watch root's process";
  TempDir dir;
  const auto app = StartApp({kPostgresUrl}, {});
  WriteFile(dir.File("app.pid"), std::to_string(app->pid()));
  std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
  std::filesystem::permissions(dir.File("app.pid"), std::filesystem::perms::all);
  EXPECT_EXIT(
      {
        if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
            ::setresuid(65534, 65534, 65534) != 0) {
          std::fprintf(stderr, "cannot become nobody\n");
          std::_Exit(2);
        }
        AppProcessSettings settings;
        settings.pid_file = dir.File("app.pid");
        const Seen run = CollectWith(settings, DatabaseEndpoint{});
        const std::string text = Details(run.result).dump();
        const bool ok = HasProblem(run.result, "app_process_unreadable") && run.result.error &&
                        run.result.error->find("CAP_SYS_PTRACE") != std::string::npos &&
                        Gauge(run.result, "caloria_app_process_up") == 1.0 &&
                        !Family(run.result, "caloria_app_process_database_info") && run.published &&
                        !run.view && text.find("hunter2") == std::string::npos;
        std::fprintf(stderr, "%s\n", ok ? "unreadable as expected" : text.c_str());
        std::_Exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "unreadable as expected");
}

// ---- the spec ---------------------------------------------------------------------------------

// With the config collector it runs after, switched off so that only the
// collector under test is built.
Result<CollectorList> Build(std::vector<std::string> args) {
  args.push_back("--no-collector.config");
  return ::caloria::testing::BuildCollectors(
      CollectorRegistry({ConfigCollectorSpec(), AppProcessCollectorSpec()}), args);
}

TEST(AppProcessCollectorSpec, NothingToWatchWithoutAPidFileOrAPattern) {
  const auto built = Build({});
  ASSERT_TRUE(built.ok()) << built.error();
  EXPECT_TRUE(built->empty());
  const auto with_pattern = Build({"--app.process=gunicorn.*caloria"});
  ASSERT_TRUE(with_pattern.ok()) << with_pattern.error();
  ASSERT_EQ(with_pattern->size(), 1u);
  EXPECT_EQ(with_pattern->front()->Name(), "app_process");
  EXPECT_EQ(Build({"--app.pid-file=/run/caloria.pid"})->size(), 1u);
}

TEST(AppProcessCollectorSpec, BothFlagsOrABadPatternAreUsageErrorsEvenWhenSwitchedOff) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--app.process=x", "--app.pid-file=/run/x.pid"},
        std::vector<std::string>{"--app.process=gunicorn(", "--no-collector.app_process"},
        std::vector<std::string>{"--app.pid-file="}}) {
    const auto built = Build(args);
    ASSERT_FALSE(built.ok()) << args.front();
    EXPECT_NE(built.error().find("--app."), std::string::npos) << built.error();
  }
}

}  // namespace
}  // namespace caloria
