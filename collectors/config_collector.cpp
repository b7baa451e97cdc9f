#include "collectors/config_collector.h"

namespace caloria {

ConfigCollector::ConfigCollector(const ConfigStore& store, ConfigReloader* reloader)
    : store_(store), reloader_(reloader) {}

CollectorResult ConfigCollector::Collect(const Deadline& /*deadline*/) {
  if (reloader_) reloader_->ReloadIfFilesChanged();
  const std::shared_ptr<const Config> config = store_.Latest();
  const DatabaseLocation& database = config->database;
  CollectorResult result;
  result.families.push_back(SingleGauge(
      "caloria_config_info",
      "The app's configured database type and where DATABASE_URL came from. Always 1.", 1,
      {{"database_type", DatabaseTypeName(database.url.type)},
       {"expected_type", ExpectedTypeName(database.expected_type)},
       {"source", ConfigSourceName(database.source)}}));
  result.problems = database.problems;
  if (reloader_) {
    const ReloadStatus reload = reloader_->LastReload();
    result.families.push_back(
        SingleGauge("caloria_exporter_config_last_reload_successful",
                    "Whether the last configuration reload succeeded (1) or was rejected (0).",
                    reload.last_successful ? 1 : 0));
    result.families.push_back(SingleGauge(
        "caloria_exporter_config_last_reload_success_timestamp_seconds",
        "When the configuration was last loaded successfully (at start or by a reload).",
        UnixSeconds(reload.last_success)));
    if (reload.error) {
      result.problems.push_back(
          {"config_reload_failed",
           "the changed configuration was rejected, the previous one is still in force: " +
               *reload.error,
           HealthStatus::kDegraded});
    }
  }

  // The status and the problem list are filled in by the snapshot, from the
  // problems of every collector; this check contributes the context.
  HealthCheck check;
  check.name = "configuration";
  auto& details = check.details;
  details["database_type"] = DatabaseTypeName(database.url.type);
  details["expected_type"] = ExpectedTypeName(database.expected_type);
  details["expected_type_reason"] = database.expected_type_reason;
  details["source"] = ConfigSourceName(database.source);
  details["url_origin"] = database.origin;
  details["url"] = database.url.Redacted();
  details["env_file"] = OrNull(database.env_file);
  if (!database.sqlite_path.empty()) details["sqlite_path"] = database.sqlite_path;
  result.checks.push_back(std::move(check));
  return result;
}

CollectorSpec ConfigCollectorSpec() {
  CollectorSpec spec;
  spec.name = "config";
  spec.title = "Config collector";
  spec.help =
      "Export the configuration in force and its problems, and reload it when its files change";
  spec.make = [](const CollectorContext& context) -> Result<std::unique_ptr<Collector>> {
    return std::unique_ptr<Collector>(
        std::make_unique<ConfigCollector>(context.store, context.reloader));
  };
  return spec;
}

}  // namespace caloria
