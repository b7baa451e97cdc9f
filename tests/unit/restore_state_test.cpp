#include "collectors/restore/restore_state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using ::caloria::testing::TempDir;

RestoreRun PassedRun() {
  RestoreRun run;
  run.finished = 1764554400.25;
  run.success = true;
  run.duration_seconds = 3.5;
  run.backup_file = "/var/backups/caloria/caloria_20261201_020000.sql.gz";
  run.backup_timestamp = 1764554400;
  run.backup_format = "plain";
  run.restored_users = 3;
  run.backup_users = 3;
  run.live_users = 4;
  run.target = "postgresql://restore:***@127.0.0.1:5432/postgres";
  return run;
}

RestoreRun FailedRun() {
  RestoreRun run;
  run.finished = 1764640800;
  run.success = false;
  run.error = "psql failed at line 40: role \"ghost\" does not exist";
  run.duration_seconds = 0.5;
  run.backup_file = "/var/backups/caloria/caloria_20261202_020000.sql.gz";
  return run;
}

void ExpectSameRun(const RestoreRun& got, const RestoreRun& want) {
  EXPECT_EQ(got.finished, want.finished);
  EXPECT_EQ(got.success, want.success);
  EXPECT_EQ(got.error, want.error);
  EXPECT_EQ(got.duration_seconds, want.duration_seconds);
  EXPECT_EQ(got.backup_file, want.backup_file);
  EXPECT_EQ(got.backup_timestamp, want.backup_timestamp);
  EXPECT_EQ(got.backup_format, want.backup_format);
  EXPECT_EQ(got.restored_users, want.restored_users);
  EXPECT_EQ(got.backup_users, want.backup_users);
  EXPECT_EQ(got.live_users, want.live_users);
  EXPECT_EQ(got.target, want.target);
}

std::string ErrorFor(const std::string& text) {
  const Result<RestoreState> state = ParseRestoreState(text);
  if (state) {
    ADD_FAILURE() << "accepted: " << text;
    return "";
  }
  EXPECT_EQ(state.error().find('\n'), std::string::npos) << state.error();
  return state.error();
}

TEST(RestoreState, WhatIsWrittenIsReadBack) {
  RestoreState state;
  state.last_run = FailedRun();
  state.last_success = PassedRun();
  const std::string json = RestoreStateJson(state);
  EXPECT_EQ(json.back(), '\n');
  EXPECT_EQ(json.find('\n'), json.size() - 1) << "one line";
  const Result<RestoreState> read = ParseRestoreState(json);
  ASSERT_TRUE(read) << read.error();
  ExpectSameRun(read->last_run, state.last_run);
  ASSERT_TRUE(read->last_success.has_value());
  ExpectSameRun(*read->last_success, *state.last_success);

  state.last_success.reset();
  const Result<RestoreState> never = ParseRestoreState(RestoreStateJson(state));
  ASSERT_TRUE(never) << never.error();
  EXPECT_FALSE(never->last_success.has_value());
}

TEST(RestoreState, AnythingElseIsRefusedWithOneLineNamingTheField) {
  EXPECT_EQ(ErrorFor(""), "it is not JSON");
  EXPECT_EQ(ErrorFor("{\"version\": 1"), "it is not JSON");
  EXPECT_EQ(ErrorFor("[]"), "it is not a JSON object");
  EXPECT_NE(ErrorFor("{\"version\": 2, \"last_run\": {}}").find("version"), std::string::npos);
  EXPECT_NE(ErrorFor("{\"version\": 1}").find("last_run"), std::string::npos);

  auto with_run = [](const std::string& field, const std::string& value) {
    nlohmann::json json = nlohmann::json::parse(RestoreStateJson({PassedRun(), std::nullopt}));
    json["last_run"][field] = nlohmann::json::parse(value);
    return json.dump();
  };
  EXPECT_EQ(ErrorFor(with_run("restored_users", "-1")),
            "last_run.restored_users must be a finite number, at least 0");
  EXPECT_EQ(ErrorFor(with_run("restored_users", "2.5")),
            "last_run.restored_users must be a whole number");
  EXPECT_EQ(ErrorFor(with_run("finished", "\"yesterday\"")), "last_run.finished must be a number");
  EXPECT_EQ(ErrorFor(with_run("finished", "null")), "last_run.finished is missing");
  EXPECT_EQ(ErrorFor(with_run("success", "1")), "last_run.success must be true or false");
  EXPECT_EQ(ErrorFor(with_run("error", "[]")), "last_run.error must be a string");
  EXPECT_EQ(ErrorFor(with_run("target", "\"" + std::string(5000, 'x') + "\"")),
            "last_run.target is longer than 4096 bytes");

  nlohmann::json not_a_success =
      nlohmann::json::parse(RestoreStateJson({PassedRun(), PassedRun()}));
  not_a_success["last_success"]["success"] = false;
  EXPECT_EQ(ErrorFor(not_a_success.dump()), "its last_success.success is false");
}

// The file is the script's, but anyone who can write its folder can write it:
// nesting 60,000 deep must cost neither the stack nor a crash.
TEST(RestoreState, DeepNestingIsRefusedWithoutCrashing) {
  EXPECT_EQ(ErrorFor(std::string(60000, '[') + std::string(60000, ']')), "it is not a JSON object");
  EXPECT_EQ(ErrorFor("{\"version\": 1, \"last_run\": " + std::string(60000, '[')),
            "it is not JSON");
}

TEST(RestoreState, ControlCharactersInStringsBecomeSpaces) {
  RestoreState state;
  state.last_run = FailedRun();
  state.last_run.error = "line one\nline two\r\x1b[31m";
  const Result<RestoreState> read = ParseRestoreState(RestoreStateJson(state));
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(read->last_run.error, "line one line two  [31m");
}

TEST(RestoreState, WriteReplacesTheFileWholeAndReadableByTheExporter) {
  TempDir dir;
  const std::string path = dir.File("restore-test.json");
  ASSERT_TRUE(WriteRestoreState(path, {FailedRun(), PassedRun()}));
  ASSERT_TRUE(WriteRestoreState(path, {PassedRun(), PassedRun()}));
  const Result<RestoreState> read = ReadRestoreState(path);
  ASSERT_TRUE(read) << read.error();
  ExpectSameRun(read->last_run, PassedRun());
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
  }
  EXPECT_EQ(files, 1) << "no temporary file left behind";

  const Status nowhere = WriteRestoreState(dir.File("missing/state.json"), {PassedRun(), {}});
  ASSERT_FALSE(nowhere);
  EXPECT_NE(nowhere.error().find(dir.File("missing")), std::string::npos) << nowhere.error();
}

TEST(RestoreState, ReadNamesTheFileAndTheFix) {
  TempDir dir;
  const std::string missing = dir.File("absent.json");
  const Result<RestoreState> absent = ReadRestoreState(missing);
  ASSERT_FALSE(absent);
  EXPECT_NE(absent.error().find(missing), std::string::npos) << absent.error();
  EXPECT_NE(absent.error().find("caloria-restore-test"), std::string::npos) << absent.error();

  const std::string fifo = dir.File("fifo.json");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const Result<RestoreState> pipe = ReadRestoreState(fifo);
  ASSERT_FALSE(pipe);
  EXPECT_NE(pipe.error().find("not a regular file"), std::string::npos) << pipe.error();

  const std::string large = dir.File("large.json");
  std::ofstream(large) << std::string(kMaxRestoreStateBytes + 1, ' ');
  const Result<RestoreState> too_large = ReadRestoreState(large);
  ASSERT_FALSE(too_large);
  EXPECT_NE(too_large.error().find("larger than 64 KiB"), std::string::npos) << too_large.error();

  const std::string corrupt = dir.File("corrupt.json");
  std::ofstream(corrupt) << "{\"version\": 1, \"last_r";
  const Result<RestoreState> cut = ReadRestoreState(corrupt);
  ASSERT_FALSE(cut);
  EXPECT_NE(cut.error().find("(it is not JSON)"), std::string::npos) << cut.error();
}

}  // namespace
}  // namespace caloria
