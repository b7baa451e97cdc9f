#include "collectors/backup/backup_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>
#include <string>

#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using ::caloria::testing::ScopedTimeZone;
using ::caloria::testing::TempDir;

constexpr const char* kUtc = "UTC0";
constexpr const char* kBerlin = "CET-1CEST,M3.5.0,M10.5.0/3";  // no tzdata needed

// 2026-11-25 02:00:04 UTC.
constexpr std::time_t kT = 1795572004;

TEST(BackupLog, DocumentedSuccessLineIsASuccess) {
  const auto summary = SummarizeBackupLog(
      "2026-11-25T02:00:04+00:00 caloria-backup SUCCESS file=/var/backups/caloria/"
      "caloria_20261125_020000.sql.gz size=123456 users=42\n");
  EXPECT_EQ(summary.last_success, kT);
  EXPECT_EQ(summary.last_error, std::nullopt);
  EXPECT_EQ(summary.last_error_message, "");
}

TEST(BackupLog, DocumentedErrorLineIsAnErrorWithItsMessage) {
  const auto summary = SummarizeBackupLog(
      "2026-11-25T02:00:04+00:00 caloria-backup ERROR pg_dump failed (exit 1)\n");
  EXPECT_EQ(summary.last_success, std::nullopt);
  EXPECT_EQ(summary.last_error, kT);
  EXPECT_EQ(summary.last_error_message, "pg_dump failed (exit 1)");
}

TEST(BackupLog, EveryOutcomeWordIsRecognised) {
  EXPECT_EQ(SummarizeBackupLog("2026-11-25T02:00:04Z backup OK\n").last_success, kT);
  EXPECT_EQ(SummarizeBackupLog("2026-11-25T02:00:04Z backup SUCCESS\n").last_success, kT);
  EXPECT_EQ(SummarizeBackupLog("2026-11-25T02:00:04Z backup ERROR x\n").last_error, kT);
  EXPECT_EQ(SummarizeBackupLog("2026-11-25T02:00:04Z backup FAILED x\n").last_error, kT);
  EXPECT_EQ(SummarizeBackupLog("2026-11-25T02:00:04Z backup FAILURE x\n").last_error, kT);
}

TEST(BackupLog, ZuluAndNumericOffsetsAreHonoured) {
  EXPECT_EQ(LogLineTime("2026-11-25T02:00:04Z caloria-backup SUCCESS"), kT);
  EXPECT_EQ(LogLineTime("2026-11-25T02:00:04+00:00 caloria-backup SUCCESS"), kT);
  EXPECT_EQ(LogLineTime("2026-11-25T04:00:04+02:00 caloria-backup SUCCESS"), kT);
  EXPECT_EQ(LogLineTime("2026-11-25T04:00:04+0200 caloria-backup SUCCESS"), kT);
  EXPECT_EQ(LogLineTime("2026-11-24T21:00:04-05:00 caloria-backup SUCCESS"), kT);
  EXPECT_EQ(LogLineTime("2026-11-25T07:30:04+05:30 caloria-backup SUCCESS"), kT);
}

TEST(BackupLog, OffsetsDoNotDependOnTheLocalZone) {
  ScopedTimeZone zone(kBerlin);
  EXPECT_EQ(LogLineTime("2026-11-25T02:00:04Z x"), kT);
  EXPECT_EQ(LogLineTime("2026-11-25T04:00:04+02:00 x"), kT);
}

TEST(BackupLog, TimeWithoutOffsetIsLocalTime) {
  {
    ScopedTimeZone zone(kUtc);
    EXPECT_EQ(LogLineTime("2026-11-25T02:00:04 caloria-backup SUCCESS"), kT);
  }
  {
    ScopedTimeZone zone(kBerlin);  // November: CET, UTC+1
    EXPECT_EQ(LogLineTime("2026-11-25T03:00:04 caloria-backup SUCCESS"), kT);
    // July: CEST, UTC+2 (2026-07-01 12:00:00 UTC).
    EXPECT_EQ(LogLineTime("2026-07-01T14:00:00 caloria-backup SUCCESS"), std::time_t{1782907200});
  }
}

TEST(BackupLog, SpaceBetweenDateAndTimeIsAccepted) {
  ScopedTimeZone zone(kUtc);
  EXPECT_EQ(LogLineTime("2026-11-25 02:00:04 caloria-backup SUCCESS"), kT);
  EXPECT_EQ(LogLineTime("2026-11-25 04:00:04+02:00 caloria-backup SUCCESS"), kT);
  EXPECT_EQ(SummarizeBackupLog("2026-11-25 02:00:04 caloria-backup OK\n").last_success, kT);
}

TEST(BackupLog, FractionsAndBracketsAreAccepted) {
  ScopedTimeZone zone(kUtc);
  EXPECT_EQ(LogLineTime("2026-11-25T02:00:04.123456Z x"), kT);
  EXPECT_EQ(LogLineTime("2026-11-25 02:00:04,123 x"), kT);
  EXPECT_EQ(LogLineTime("[2026-11-25 02:00:04] x"), kT);
}

TEST(BackupLog, LinesWithoutLeadingTimeAreIgnored) {
  const auto summary = SummarizeBackupLog(
      "SUCCESS without a time\n"
      "pg_dump: error: ERROR connection refused\n"
      "  2026-11-25T02:00:04Z indented SUCCESS\n"
      "caloria-backup 2026-11-25T02:00:04Z ERROR time not first\n"
      "2026-11-25 caloria-backup SUCCESS date only\n"
      "\n");
  EXPECT_EQ(summary.last_success, std::nullopt);
  EXPECT_EQ(summary.last_error, std::nullopt);
  EXPECT_EQ(LogLineTime("no time here"), std::nullopt);
  EXPECT_EQ(LogLineTime(""), std::nullopt);
}

TEST(BackupLog, LinesWithTimeButNoOutcomeAreIgnored) {
  const auto summary = SummarizeBackupLog(
      "2026-11-25T02:00:00Z caloria-backup starting pg_dump\n"
      "2026-11-25T02:00:04Z caloria-backup SUCCESS file=a\n"
      "2026-11-25T03:00:00Z caloria-backup cleanup removed 1 file\n");
  EXPECT_EQ(summary.last_success, kT);
  EXPECT_EQ(summary.last_error, std::nullopt);
}

TEST(BackupLog, LatestTimeWinsEvenWhenLinesAreOutOfOrder) {
  const auto summary = SummarizeBackupLog(
      "2026-11-25T02:00:04Z caloria-backup SUCCESS file=latest\n"
      "2026-11-24T02:00:04Z caloria-backup SUCCESS file=older\n"
      "2026-11-25T01:00:00Z caloria-backup ERROR newest error\n"
      "2026-11-23T02:00:04Z caloria-backup ERROR oldest error\n"
      "2026-11-20T02:00:04Z caloria-backup SUCCESS file=oldest\n");
  EXPECT_EQ(summary.last_success, kT);
  EXPECT_EQ(summary.last_error, kT - 3604);
  EXPECT_EQ(summary.last_error_message, "newest error");
}

TEST(BackupLog, LastErrorMessageIsCaptured) {
  const auto summary = SummarizeBackupLog(
      "2026-11-24T02:00:04Z caloria-backup ERROR disk full\n"
      "2026-11-25T02:00:04Z caloria-backup ERROR: pg_dump failed (exit 1): "
      "connection to server on socket failed\n"
      "2026-11-25T03:00:00Z caloria-backup SUCCESS file=x\n");
  EXPECT_EQ(summary.last_error, kT);
  EXPECT_EQ(summary.last_error_message,
            "pg_dump failed (exit 1): connection to server on socket failed");
  EXPECT_EQ(summary.last_success, kT + 3596);
}

TEST(BackupLog, ErrorAtTheSameSecondKeepsTheLaterLine) {
  const auto summary = SummarizeBackupLog(
      "2026-11-25T02:00:04Z caloria-backup ERROR first\n"
      "2026-11-25T02:00:04Z caloria-backup ERROR second\n");
  EXPECT_EQ(summary.last_error_message, "second");
}

TEST(BackupLog, LongErrorMessagesAreCut) {
  const std::string reason(5000, 'r');
  const auto summary = SummarizeBackupLog("2026-11-25T02:00:04Z caloria-backup ERROR " + reason);
  EXPECT_EQ(summary.last_error, kT);
  EXPECT_LE(summary.last_error_message.size(), 300u);
  EXPECT_EQ(summary.last_error_message, reason.substr(0, summary.last_error_message.size()));
}

TEST(BackupLog, OutcomeWordsCountOnlyAsWholeWords) {
  const auto summary = SummarizeBackupLog(
      "2026-11-25T02:00:04Z caloria-backup OKAY\n"
      "2026-11-25T02:00:04Z caloria-backup ERRORS were not found\n"
      "2026-11-25T02:00:04Z caloria-backup SUCCESSFUL\n"
      "2026-11-25T02:00:04Z caloria-backup UNSUCCESS\n"
      "2026-11-25T02:00:04Z caloria-backup NOTOK\n"
      "2026-11-25T02:00:04Z caloria-backup FAILED_OVER to replica\n"
      "2026-11-25T02:00:04Z caloria-backup file=ERROR_report.sql.gz\n");
  EXPECT_EQ(summary.last_success, std::nullopt);
  EXPECT_EQ(summary.last_error, std::nullopt);
}

TEST(BackupLog, FirstOutcomeWordDecides) {
  const auto summary = SummarizeBackupLog(
      "2026-11-25T02:00:04Z caloria-backup SUCCESS file=/backups/ERROR.sql.gz\n"
      "2026-11-25T03:00:00Z caloria-backup ERROR upload failed, local copy OK\n");
  EXPECT_EQ(summary.last_success, kT);
  EXPECT_EQ(summary.last_error, kT + 3596);
  EXPECT_EQ(summary.last_error_message, "upload failed, local copy OK");
}

TEST(BackupLog, LastLineWithoutNewlineCounts) {
  const auto summary = SummarizeBackupLog(
      "2026-11-24T02:00:04Z caloria-backup SUCCESS\n"
      "2026-11-25T02:00:04Z caloria-backup SUCCESS");
  EXPECT_EQ(summary.last_success, kT);
}

TEST(BackupLog, VeryLongLinesAreHandled) {
  std::string text =
      "2026-11-25T02:00:04Z caloria-backup ERROR " + std::string(1 << 20, 'e') + "\n";
  text += std::string(1 << 20, '2') + "\n";
  text += "2026-11-24T02:00:04Z caloria-backup SUCCESS\n";
  const auto summary = SummarizeBackupLog(text);
  EXPECT_EQ(summary.last_error, kT);
  EXPECT_EQ(summary.last_success, kT - 86400);
}

TEST(BackupLog, EmptyInputSaysNothing) {
  for (const char* text : {"", "\n", "\n\n\n"}) {
    const auto summary = SummarizeBackupLog(text);
    EXPECT_EQ(summary.last_success, std::nullopt);
    EXPECT_EQ(summary.last_error, std::nullopt);
    EXPECT_EQ(summary.last_error_message, "");
  }
}

// Issue 10: std::regex recursed once per digit of the fraction, and this
// line overflowed the stack. The time is read correctly now; the summary
// ignores the line, whose outcome word lies past the 4 KiB of a line it reads.
TEST(BackupLog, FiftyThousandDigitFractionIsReadWithoutCrashing) {
  ScopedTimeZone zone(kUtc);
  const std::string line = "2026-11-25T02:00:05." + std::string(50000, '7') + " SUCCESS";
  EXPECT_EQ(LogLineTime(line), kT + 1);
  EXPECT_EQ(LogLineTime("2026-11-25T02:00:05." + std::string(50000, '7') + "+02:00"),
            kT + 1 - 7200);
  const auto summary = SummarizeBackupLog(line + "\n2026-11-24T02:00:04Z caloria-backup SUCCESS\n");
  EXPECT_EQ(summary.last_success, kT - 86400);
}

TEST(BackupLog, OnlyTheFirstFourKibibytesOfALineAreRead) {
  const std::string padding(4096, 'p');
  EXPECT_EQ(SummarizeBackupLog("2026-11-25T02:00:04Z " + padding + " SUCCESS\n").last_success,
            std::nullopt);
  EXPECT_EQ(SummarizeBackupLog("2026-11-25T02:00:04Z " + padding.substr(0, 4000) + " SUCCESS\n")
                .last_success,
            kT);
}

TEST(BackupLog, TenMebibyteLineIsSkippedAndTheLinesAroundItCount) {
  std::string text = "2026-11-24T02:00:04Z caloria-backup SUCCESS\n";
  text += "2026-11-25T02:00:04Z caloria-backup " + std::string(10 << 20, '9') + " ERROR x\n";
  text += "2026-11-25T02:00:04Z caloria-backup ERROR disk full\n";
  const auto summary = SummarizeBackupLog(text);
  EXPECT_EQ(summary.last_success, kT - 86400);
  EXPECT_EQ(summary.last_error, kT);
  EXPECT_EQ(summary.last_error_message, "disk full");
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

TEST(BackupLog, TailOfALogWithATenMebibyteLineStartsAtTheNextWholeLine) {
  TempDir dir;
  const std::string path = dir.File("backup.log");
  const std::string last = "2026-11-25T02:00:04Z caloria-backup SUCCESS\n";
  WriteFile(path,
            "2026-11-20T02:00:04Z caloria-backup " + std::string(10 << 20, 'x') + "\n" + last);
  const Result<std::string> tail = ReadLogTail(path);
  ASSERT_TRUE(tail) << tail.error();
  EXPECT_EQ(*tail, last);
  EXPECT_EQ(SummarizeBackupLog(*tail).last_success, kT);
}

TEST(BackupLog, TailInsideOneLongLineIsEmpty) {
  TempDir dir;
  const std::string path = dir.File("backup.log");
  // Whatever the inside of a line holds, it is not the start of a line.
  std::string line = "2026-11-20T02:00:04Z caloria-backup x";
  while (line.size() < (3 << 20)) line += " 2026-11-25T02:00:04Z caloria-backup SUCCESS";
  WriteFile(path, line);
  const Result<std::string> tail = ReadLogTail(path);
  ASSERT_TRUE(tail) << tail.error();
  EXPECT_EQ(*tail, "");
}

TEST(BackupLog, TailOfAFifoIsRefusedWithoutWaitingForAWriter) {
  TempDir dir;
  const std::string fifo = dir.File("backup.log");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const Result<std::string> tail = ReadLogTail(fifo);
  ASSERT_FALSE(tail);
  EXPECT_NE(tail.error().find("not a regular file"), std::string::npos) << tail.error();
  const Result<std::string> missing = ReadLogTail(dir.File("missing.log"));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("check --backup.log and its permissions"), std::string::npos)
      << missing.error();
}

}  // namespace
}  // namespace caloria
