// The web-config parser (config/web_config): yaml-cpp and our checks of
// the exporter-toolkit keys, through ParseWebConfigText. The paths a file
// names are opened (not read) relative to a folder in tmpfs that holds the
// files the seeds name.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "config/web_config.h"
#include "tests/common/hash_shape.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using caloria::fuzz::Require;

std::string g_config_path;

// As tests/unit/web_config_test.cpp checks: errors may name the prefixes, never a hash.
using caloria::testing::HoldsAHash;

bool Same(const caloria::WebConfig& a, const caloria::WebConfig& b) {
  const bool same_tls =
      a.tls.has_value() == b.tls.has_value() &&
      (!a.tls ||
       (a.tls->cert_file == b.tls->cert_file && a.tls->key_file == b.tls->key_file &&
        a.tls->client_ca_file == b.tls->client_ca_file &&
        a.tls->client_auth_type == b.tls->client_auth_type &&
        a.tls->min_version == b.tls->min_version && a.tls->max_version == b.tls->max_version &&
        a.tls->cipher_suites == b.tls->cipher_suites &&
        a.tls->curve_preferences == b.tls->curve_preferences));
  return same_tls && a.basic_auth_users == b.basic_auth_users && a.headers == b.headers &&
         a.files_read == b.files_read;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::path dir = "/dev/shm";
  if (!fs::is_directory(dir, error)) dir = fs::temp_directory_path(error);
  // One folder per user, the same for every run: nothing piles up when a
  // run ends with a crash rather than a clean exit.
  dir /= "caloria_fuzz_web_config_" + std::to_string(::getuid());
  fs::create_directories(dir, error);
  for (const char* name : {"server.crt", "server.key", "ca.crt"}) {
    std::ofstream(dir / name, std::ios::trunc) << "PEM\n";
  }
  g_config_path = (dir / "web.yml").string();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = caloria::fuzz::Text(data, size);
  const caloria::Result<caloria::WebConfig> config =
      caloria::ParseWebConfigText(text, g_config_path);
  const caloria::Result<caloria::WebConfig> again =
      caloria::ParseWebConfigText(text, g_config_path);
  Require(config.ok() == again.ok(), "the same file parsed twice gave different results");
  if (!config) {
    const std::string& message = config.error();
    Require(message == again.error(), "the same file failed twice with different errors");
    Require(message.find('\n') == std::string::npos, "an error is not one line");
    Require(message.find(g_config_path) != std::string::npos, "an error does not name the file");
    Require(!HoldsAHash(message), "an error holds a bcrypt hash");
    return 0;
  }
  Require(Same(*config, *again), "the same file parsed twice gave different configurations");
  for (const auto& [user, hash] : config->basic_auth_users) {
    Require(caloria::BcryptHashCost(hash.Reveal()).has_value(), "a user without a bcrypt hash");
  }
  for (const auto& [name, value] : config->headers) {
    Require(value.find_first_of("\r\n") == std::string::npos, "a header value breaks the line");
  }
  return 0;
}
