// The hash chain and its signed checkpoints: what `audit verify` promises.
#include "audit_fixtures.h"
#include "core/jsonrpc.h"
#include "record/audit_chain.h"

using namespace audit_test;

TEST_CASE("the canonical form is compact JSON with sorted keys and integer phases, and excludes the hash") {
  AuditRecord r = make(1700000000123, "req-1", "vs", "echo", "sess", "ok");
  r.metadata = {{"team", "payments"}, {"project_id", "p1"}};
  r.hash = "ignored";
  std::string c = canonical_form(r);
  CHECK(c.find(' ') == std::string::npos);
  CHECK(c.find("\"hash\"") == std::string::npos);
  CHECK(c.find("\"phases_us\":{\"authorize\":0,\"guard\":0,\"identity\":0,\"total\":12500,\"upstream\":10250}") !=
        std::string::npos);
  CHECK(c.find("\"metadata\":{\"project_id\":\"p1\",\"team\":\"payments\"}") != std::string::npos);
  CHECK(c.find("\"approval\"") < c.find("\"arguments\""));  // sorted at the top level too
  CHECK(record_hash(r) == crypto::sha256_hex(c));
  // Any field changes the hash.
  AuditRecord other = r;
  other.phases.guard_us = 1;
  CHECK(record_hash(other) != record_hash(r));
}

TEST_CASE(
    "the canonical form written field by field equals the sorted JSON of to_json without the "
    "hash") {
  // The definition (audit_record.h), computed the slow way.
  auto reference = [](const AuditRecord& r) {
    Json j = to_json(r);
    j.erase("hash");
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
  };
  AuditRecord plain = make(1700000000123, "req-1", "vs", "echo", "sess", "error");
  plain.hash = "not part of it";
  plain.chain_id = "gw-1";
  plain.seq = 42;
  plain.prev_hash = std::string(64, 'f');
  plain.dropped_before = 7;
  plain.phases = {1, 2, 3, 4, 5};
  CHECK(canonical_form(plain) == reference(plain));

  AuditRecord tricky = plain;
  tricky.subject = "zoë \"the admin\" \\ o'brien";  // UTF-8, quotes, backslash
  tricky.error_message =
      std::string("tab\there\nnew line \x01 \x7f end");  // control characters, DEL
  tricky.tool = std::string("bad \xff\xfe utf8 \xc3");   // invalid UTF-8 (replaced by U+FFFD)
  tricky.arguments = "{\"k\":\"v\"}";
  tricky.result = "\xe2\x9c\x93 ok \xf0\x9f\x94\x92";  // valid multi-byte UTF-8
  tricky.groups = Json::array({"b", "a", "ü"});
  tricky.metadata = {{"zeta", {{"y", 1.5}, {"x", nullptr}}},
                     {"alpha", Json::array({true, -3, "s"})}};
  tricky.policy_ids = Json::array({"p2", "p1"});
  tricky.findings = Json::array({{{"rule", "aws_key"}, {"action", "redact"}, {"start", 3}}});
  tricky.error_code = -32602;
  tricky.ts_ms = -5;
  tricky.request_bytes = UINT64_MAX;
  CHECK(canonical_form(tricky) == reference(tricky));
  CHECK(canonical_form(AuditRecord{}) == reference(AuditRecord{}));
}

TEST_CASE(
    "canonical_json writes exactly what the JSON serializer writes, sorted keys and replaced UTF-8 "
    "included") {
  const Json cases[] = {
      Json::object(),
      Json::array(),
      nullptr,
      Json{{"b", 1},
           {"a", Json::array({1, -2, 3.25, 1e300, 0.1, true, false, nullptr})},
           {"", "empty key"}},
      Json{{"z\xc3\xbc", "k\xc3\xa9y"}, {"bad\xff", "val\xfe"}, {"ctl\x01", "tab\t\"q\"\\"}},
      Json{{"nested", {{"deep", {{"deeper", Json::array({Json::object(), Json::array(), "x"})}}}}}},
      Json(UINT64_MAX),
      Json(INT64_MIN),
      Json(std::string(400, 'r')),
      Json("\xe2\x9c\x93 \xf0\x9f\x94\x92 \x7f"),
  };
  for (const auto& j : cases) {
    CAPTURE(j.dump(-1, ' ', true, Json::error_handler_t::replace));
    CHECK(canonical_json(j) == j.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
}

TEST_CASE("each record links to the previous one and the chain verifies with its checkpoints") {
  TempDir dir;
  auto key = test_key();
  write_records(dir.db(), 5, key);
  auto rows = query_all(dir.db());
  REQUIRE(rows.size() == 5);
  std::reverse(rows.begin(), rows.end());  // oldest first
  CHECK(rows[0].seq == 1);
  CHECK(rows[0].prev_hash == kGenesisHash);
  for (size_t i = 1; i < rows.size(); ++i) {
    CHECK(rows[i].seq == static_cast<int64_t>(i) + 1);
    CHECK(rows[i].prev_hash == rows[i - 1].hash);
    CHECK(rows[i].hash == record_hash(rows[i]));
  }
  auto v = verify_db(dir.db(), &key);
  CHECK_MESSAGE(v.ok, v.message);
  CHECK(v.records == 5);
  CHECK(v.checkpoints == 5);
  CHECK(v.head_hash == rows.back().hash);
}

TEST_CASE("an edited field fails verification at that record, as altered") {
  TempDir dir;
  auto key = test_key();
  write_records(dir.db(), 5, key);
  sql(dir.db(), "UPDATE audit SET tool = 'innocent' WHERE seq = 3");
  auto v = verify_db(dir.db(), &key);
  CHECK_FALSE(v.ok);
  CHECK(v.failed_row == 3);
  CHECK(v.message == "record 3 (seq 3): altered: its contents do not match its hash");
}

TEST_CASE("a deleted record fails verification naming the missing seq") {
  TempDir dir;
  auto key = test_key();
  write_records(dir.db(), 5, key);
  sql(dir.db(), "DELETE FROM audit WHERE seq = 2");
  auto v = verify_db(dir.db(), &key);
  CHECK_FALSE(v.ok);
  CHECK(v.failed_row == 3);
  CHECK(v.message == "deleted: seq 2 missing before record 3 (seq 3)");
}

TEST_CASE("deleting the newest records fails verification through the newest checkpoint") {
  TempDir dir;
  auto key = test_key();
  write_records(dir.db(), 5, key);
  sql(dir.db(), "DELETE FROM audit WHERE seq >= 4");
  auto v = verify_db(dir.db(), &key);
  CHECK_FALSE(v.ok);
  CHECK(v.message.find("deleted: checkpoint 5 (seq 5) signs the chain through seq 5, but the records end at seq 3") == 0);
}

TEST_CASE("an inserted copy of a record fails verification as inserted") {
  TempDir dir;
  auto key = test_key();
  write_records(dir.db(), 5, key);
  sql(dir.db(), "INSERT INTO audit (ts_ms, tool, chain, seq, prev_hash, hash) SELECT ts_ms, 'forged', chain, seq, prev_hash, "
                "hash FROM audit WHERE seq = 2");
  auto v = verify_db(dir.db(), &key);
  CHECK_FALSE(v.ok);
  CHECK(v.failed_row == 6);
  CHECK(v.message == "record 6 (seq 2): inserted: seq 2 already belongs to record 2");
}

TEST_CASE("a correctly hashed record appended by someone else is not covered by a checkpoint") {
  TempDir dir;
  auto key = test_key();
  write_records(dir.db(), 3, key);
  auto rows = query_all(dir.db());
  AuditRecord forged = make(9000, "evil", "vs", "forged", "s", "ok");
  forged.chain_id = rows.front().chain_id;
  forged.seq = 4;
  forged.prev_hash = rows.front().hash;
  forged.hash = record_hash(forged);
  sql(dir.db(), "INSERT INTO audit (ts_ms, request_id, session_id, virtual_server, upstream, tool, original_tool, method, "
                "outcome, total_us, upstream_us, request_bytes, response_bytes, chain, seq, prev_hash, hash) VALUES "
                "(9000, 'evil', 's', 'vs', 'up-vs', 'forged', 'orig_forged', 'tools/call', 'ok', 12500, 10250, 123, 4567, '" +
                    forged.chain_id + "', 4, '" + forged.prev_hash + "', '" + forged.hash + "')");
  CHECK(query_all(dir.db()).front().hash == record_hash(query_all(dir.db()).front()));  // the forgery hashes fine
  auto v = verify_db(dir.db(), &key);
  CHECK_FALSE(v.ok);
  CHECK(v.message == "inserted: records after seq 3 (through seq 4) are not covered by any signed checkpoint");
}

TEST_CASE("a rewritten chain with recomputed hashes is caught by the signed checkpoints") {
  TempDir dir;
  auto key = test_key();
  write_records(dir.db(), 3, key);
  // The attacker edits seq 2 and recomputes its hash and the next link.
  auto rows = query_all(dir.db());
  std::reverse(rows.begin(), rows.end());
  rows[1].tool = "innocent";
  rows[1].hash = record_hash(rows[1]);
  rows[2].prev_hash = rows[1].hash;
  rows[2].hash = record_hash(rows[2]);
  sql(dir.db(), "UPDATE audit SET tool = 'innocent', hash = '" + rows[1].hash + "' WHERE seq = 2");
  sql(dir.db(), "UPDATE audit SET prev_hash = '" + rows[1].hash + "', hash = '" + rows[2].hash + "' WHERE seq = 3");
  auto v = verify_db(dir.db(), &key);
  CHECK_FALSE(v.ok);
  CHECK(v.failed_row == 2);
  CHECK(v.message == "record 2 (seq 2): replaced: checkpoint 2 (seq 2) signed another hash for it (the chain was rewritten)");
}

TEST_CASE("a checkpoint re-signed without the key, or checked with another key, fails") {
  TempDir dir;
  auto key = test_key();
  write_records(dir.db(), 2, key);
  sql(dir.db(), "UPDATE audit_checkpoint SET dropped_total = 0, ts_ms = ts_ms + 1 WHERE seq = 2");
  auto v = verify_db(dir.db(), &key);
  CHECK_FALSE(v.ok);
  CHECK(v.message == "checkpoint 2 (seq 2): bad signature: the checkpoint was altered");
  auto other = test_key('b');
  TempDir dir2;
  write_records(dir2.db(), 1, key);
  auto w = verify_db(dir2.db(), &other);
  CHECK_FALSE(w.ok);
  CHECK(w.message.find("signed with another key") != std::string::npos);
}

TEST_CASE("without a key the chain is still checked and the result says signatures were not") {
  TempDir dir;
  write_records(dir.db(), 2, test_key());
  auto v = verify_db(dir.db(), nullptr);
  CHECK(v.ok);
  CHECK(v.message.find("NOT signature-checked") != std::string::npos);
}

TEST_CASE("signing keys load from a file or an environment variable and keygen refuses to overwrite") {
  TempDir dir;
  std::string file = dir.file("audit.key");
  REQUIRE(SigningKey::generate_file(file).ok());
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::group_read) == std::filesystem::perms::none);
  CHECK_FALSE(SigningKey::generate_file(file).ok());
  auto k = SigningKey::load(file, "");
  REQUIRE(k.ok());
  REQUIRE(k->has_value());
  setenv("PC_AUDIT_TEST_KEY", std::string(64, 'c').c_str(), 1);
  auto e = SigningKey::load("", "PC_AUDIT_TEST_KEY");
  REQUIRE(e.ok());
  CHECK((*e)->id() == test_key('c').id());
  CHECK_FALSE(SigningKey::from_hex("abc").ok());
  auto none = SigningKey::load("", "");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
}
