#include "collectors/config_collector.h"

namespace caloria {

ConfigCollector::ConfigCollector(const DatabaseLocation& database) {
  result_.families.push_back(SingleGauge(
      "caloria_config_info",
      "The app's configured database type and where DATABASE_URL came from. Always 1.", 1,
      {{"database_type", DatabaseTypeName(database.url.type)},
       {"expected_type", ExpectedTypeName(database.expected_type)},
       {"source", ConfigSourceName(database.source)}}));
  result_.problems = database.problems;

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
  result_.checks.push_back(std::move(check));
}

CollectorResult ConfigCollector::Collect(const Deadline& /*deadline*/) { return result_; }

CollectorSpec ConfigCollectorSpec() {
  CollectorSpec spec;
  spec.name = "config";
  spec.title = "Config collector";
  spec.help = "Export which database the app is configured for and every configuration problem";
  spec.make = [](const CollectorContext& context) -> Result<std::unique_ptr<Collector>> {
    return std::unique_ptr<Collector>(std::make_unique<ConfigCollector>(context.config.database));
  };
  return spec;
}

}  // namespace caloria
