#include "collectors/app_process/proc_text.h"

#include <gtest/gtest.h>

#include <string>

namespace caloria {
namespace {

using namespace std::string_literals;

// ---- command lines ----------------------------------------------------------

TEST(CmdlineText, NulsBecomeSpacesAndTheTrailingOneGoes) {
  EXPECT_EQ(CmdlineText("gunicorn\0-w\0004\0app:create_app()\0"s),
            "gunicorn -w 4 app:create_app()");
  EXPECT_EQ(CmdlineText(""), "");
  EXPECT_EQ(CmdlineText("\0\0"s), "");
}

TEST(CmdlineText, IsCutAtFourKibibytes) {
  const std::string long_line(10000, 'x');
  EXPECT_EQ(CmdlineText(long_line).size(), kMaxCmdlineBytes);
}

TEST(CmdlineProgram, IsArgvZeroOnly) {
  EXPECT_EQ(CmdlineProgram("/usr/bin/python3\0app.py\0--password=hunter2\0"s), "/usr/bin/python3");
  // setproctitle rewrites argv[0] with spaces, as gunicorn does.
  EXPECT_EQ(CmdlineProgram("gunicorn: worker [caloria]"s), "gunicorn: worker [caloria]");
  EXPECT_EQ(CmdlineProgram(std::string(1000, 'p')).size(), 256u);
}

TEST(CmdlineProgram, ScrubsAUrlPasswordInArgvZero) {
  EXPECT_EQ(CmdlineProgram("worker postgresql://caloria:hunter2@db/caloria\0x\0"s),
            "worker postgresql://caloria:***@db/caloria");
}

TEST(ScrubUrlPasswords, ReplacesEveryPasswordAndKeepsTheRest) {
  EXPECT_EQ(ScrubUrlPasswords("a postgresql://u:p@h:5432/d b mysql://x:y@z"),
            "a postgresql://u:***@h:5432/d b mysql://x:***@z");
  EXPECT_EQ(ScrubUrlPasswords("postgresql://u@h/d"), "postgresql://u@h/d");
  EXPECT_EQ(ScrubUrlPasswords("sqlite:///instance/caloria.db"), "sqlite:///instance/caloria.db");
  EXPECT_EQ(ScrubUrlPasswords("no url"), "no url");
  EXPECT_EQ(ScrubUrlPasswords("ends with ://"), "ends with ://");
}

TEST(ScrubUrlPasswords, APasswordWithRawSlashOrAtIsScrubbedWhole) {
  const std::string scrubbed = ScrubUrlPasswords("postgresql://u:S3cr3t:P@ss/w%rd!@h/d");
  EXPECT_EQ(scrubbed.find("S3cr3t"), std::string::npos) << scrubbed;
  EXPECT_EQ(scrubbed.find("w%rd"), std::string::npos) << scrubbed;
  EXPECT_EQ(scrubbed, "postgresql://u:***@h/d");
}

// ---- environ ------------------------------------------------------------------

TEST(EnvironValue, FindsAVariableAmongNulSeparatedEntries) {
  const std::string environ =
      "PATH=/usr/bin\0DATABASE_URL=postgresql://u:p@h/d\0FLASK_ENV=production\0"s;
  EXPECT_EQ(EnvironValue(environ, "DATABASE_URL"), "postgresql://u:p@h/d");
  EXPECT_EQ(EnvironValue(environ, "FLASK_ENV"), "production");
  EXPECT_EQ(EnvironValue(environ, "PATH"), "/usr/bin");
  EXPECT_EQ(EnvironValue(environ, "HOME"), std::nullopt);
}

TEST(EnvironValue, MatchesWholeNamesOnlyAndTheFirstWins) {
  const std::string environ = "DATABASE_URL_FILE=/run/secret\0DATABASE_URL=a\0DATABASE_URL=b"s;
  EXPECT_EQ(EnvironValue(environ, "DATABASE_URL"), "a");
  EXPECT_EQ(EnvironValue(environ, "DATABASE"), std::nullopt);
  EXPECT_EQ(EnvironValue(""s, "DATABASE_URL"), std::nullopt);
  EXPECT_EQ(EnvironValue("DATABASE_URL=\0"s, "DATABASE_URL"), "");
  EXPECT_EQ(EnvironValue("DATABASE_URL\0"s, "DATABASE_URL"), std::nullopt);
}

// ---- fd links and sockets -------------------------------------------------------

TEST(SocketInode, ReadsSocketLinksOnly) {
  EXPECT_EQ(SocketInode("socket:[123456]"), 123456u);
  EXPECT_EQ(SocketInode("pipe:[123456]"), std::nullopt);
  EXPECT_EQ(SocketInode("socket:[]"), std::nullopt);
  EXPECT_EQ(SocketInode("socket:[12x]"), std::nullopt);
  EXPECT_EQ(SocketInode("/srv/caloria/instance/caloria.db"), std::nullopt);
}

TEST(ParseIpLiteral, ReadsIpv4AndIpv6AndRefusesHostNames) {
  const auto v4 = ParseIpLiteral("127.0.0.1");
  ASSERT_TRUE(v4);
  EXPECT_EQ((*v4)[10], 0xff);
  EXPECT_EQ((*v4)[12], 127);
  EXPECT_EQ((*v4)[15], 1);
  const auto v6 = ParseIpLiteral("[::1]");
  ASSERT_TRUE(v6);
  EXPECT_EQ((*v6)[15], 1);
  EXPECT_EQ(ParseIpLiteral("::1"), v6);
  EXPECT_EQ(ParseIpLiteral("db.example.com"), std::nullopt);
  EXPECT_EQ(ParseIpLiteral("localhost"), std::nullopt);
  EXPECT_EQ(ParseIpLiteral(""), std::nullopt);
}

// Real lines of /proc/net/tcp and tcp6 (x86-64: little-endian words).
constexpr const char* kTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 "
    "24153 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:D2F4 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 "
    "98765 1 0000000000000000 20 4 30 10 -1\n"
    "   2: 0100007F:D2F6 0100007F:1538 06 00000000:00000000 03:00001234 00000000     0        0 "
    "0 3 0000000000000000\n"
    "garbage line\n";

TEST(ParseProcNetTcp, ReadsRemoteAddressPortStateAndInode) {
  const auto sockets = ParseProcNetTcp(kTcp);
  ASSERT_EQ(sockets.size(), 3u);    // the header and the garbage are skipped
  EXPECT_EQ(sockets[0].state, 10);  // LISTEN
  EXPECT_EQ(sockets[0].remote_port, 0);
  EXPECT_EQ(sockets[1].state, kTcpEstablished);
  EXPECT_EQ(sockets[1].remote_port, 5432);
  EXPECT_EQ(sockets[1].inode, 98765u);
  const int one = 1;
  if (*reinterpret_cast<const unsigned char*>(&one) == 1) {  // little-endian host
    EXPECT_EQ(sockets[1].remote, ParseIpLiteral("127.0.0.1"));
  }
  EXPECT_EQ(sockets[2].state, 6);  // TIME_WAIT, inode 0
}

TEST(ParseProcNetTcp, ReadsIpv6AndIpv4MappedAddresses) {
  // ::1 port 5432 and ::ffff:127.0.0.1 port 5432, as a little-endian kernel prints them.
  const std::string tcp6 =
      "  sl  local_address                         remote_address                        st "
      "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000000000000000000001000000:9C40 00000000000000000000000001000000:1538 01 "
      "00000000:00000000 00:00000000 00000000     0        0 555 1 0000000000000000 20 4 1 10 "
      "-1\n"
      "   1: 0000000000000000FFFF00000100007F:9C42 0000000000000000FFFF00000100007F:1538 01 "
      "00000000:00000000 00:00000000 00000000     0        0 556 1 0000000000000000 20 4 1 10 "
      "-1\n";
  const auto sockets = ParseProcNetTcp(tcp6);
  ASSERT_EQ(sockets.size(), 2u);
  EXPECT_EQ(sockets[0].remote_port, 5432);
  EXPECT_EQ(sockets[0].inode, 555u);
  const int one = 1;
  if (*reinterpret_cast<const unsigned char*>(&one) == 1) {  // little-endian host
    EXPECT_EQ(sockets[0].remote, ParseIpLiteral("::1"));
    EXPECT_EQ(sockets[1].remote, ParseIpLiteral("127.0.0.1"));
  }
}

TEST(ParseProcNetTcp, RefusesMalformedFields) {
  EXPECT_TRUE(ParseProcNetTcp("").empty());
  EXPECT_TRUE(ParseProcNetTcp("   0: 0100007F:1538 0100007F:XYZ 01 a b c d e 77\n").empty());
  EXPECT_TRUE(ParseProcNetTcp("   0: 0100007F:1538 01007F:1538 01 a b c d e 77\n").empty());
  EXPECT_TRUE(ParseProcNetTcp("   0: 0100007F:1538 0100007F:1538 01 a b c d e -1\n").empty());
  EXPECT_TRUE(ParseProcNetTcp("   0: 0100007F:1538 0100007F:FFFFF 01 a b c d e 7\n").empty());
}

// ---- SQLite files -----------------------------------------------------------------

TEST(SqliteFiles, HeaderNameAndSideFiles) {
  EXPECT_TRUE(HasSqliteHeader("SQLite format 3\0\x10\x00"s));
  EXPECT_FALSE(HasSqliteHeader("SQLite format 3"));  // 15 bytes: no NUL
  EXPECT_FALSE(HasSqliteHeader("SQLite format 2\0"s));
  EXPECT_TRUE(HasSqliteName("/srv/caloria/instance/caloria.db"));
  EXPECT_TRUE(HasSqliteName("app.sqlite3"));
  EXPECT_TRUE(HasSqliteName("app.sqlite"));
  EXPECT_FALSE(HasSqliteName("caloria.db-wal"));
  EXPECT_FALSE(HasSqliteName("/var/log/gunicorn.log"));
  EXPECT_TRUE(IsSqliteSideFile("caloria.db-wal"));
  EXPECT_TRUE(IsSqliteSideFile("caloria.db-shm"));
  EXPECT_TRUE(IsSqliteSideFile("caloria.db-journal"));
  EXPECT_FALSE(IsSqliteSideFile("caloria.db"));
}

}  // namespace
}  // namespace caloria
