#include "collectors/config_collector.h"

namespace caloria {

ConfigCollector::ConfigCollector(const Config& config) {
  result_.families.push_back(SingleGauge(
      "caloria_config_info",
      "The app's configured database type and where DATABASE_URL came from. Always 1.", 1,
      {{"database_type", DatabaseTypeName(config.database_url.type)},
       {"expected_type", ExpectedTypeName(config.expected_type)},
       {"source", ConfigSourceName(config.url_source)}}));
  result_.problems = config.problems;

  // The status and the problem list are filled in by the snapshot, from the
  // problems of every collector; this check contributes the context.
  HealthCheck check;
  check.name = "configuration";
  auto& details = check.details;
  details["database_type"] = DatabaseTypeName(config.database_url.type);
  details["expected_type"] = ExpectedTypeName(config.expected_type);
  details["expected_type_reason"] = config.expected_type_reason;
  details["source"] = ConfigSourceName(config.url_source);
  details["url_origin"] = config.url_origin;
  details["url"] = config.database_url.Redacted();
  details["env_file"] =
      config.env_file ? nlohmann::ordered_json(*config.env_file) : nlohmann::ordered_json(nullptr);
  if (!config.sqlite_path.empty()) details["sqlite_path"] = config.sqlite_path;
  result_.checks.push_back(std::move(check));
}

CollectorResult ConfigCollector::Collect(const Deadline& /*deadline*/) { return result_; }

}  // namespace caloria
