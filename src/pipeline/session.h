// Downstream sessions: one per connected MCP client (Streamable HTTP session
// or legacy SSE connection). A session owns its upstream links when upstreams
// run per client, its in-flight requests, the server->client requests it is
// relaying, its subscriptions and its log level. Nothing in a session is ever
// visible to another session.
//
// Threading: fields marked (mu) are guarded by `mu`; the rest are set once
// before the session is published in the SessionTable, or are atomic.
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/json.h"
#include "identity/principal.h"
#include "mcp/upstream_link.h"
#include "pipeline/message_stream.h"

namespace portcullis::pipeline {

struct Exchange;
struct CatalogOverlay;

// One downstream request being served.
struct InFlight {
  Json downstream_id;
  std::string method;
  // Where related messages and the response go. Null for legacy SSE clients,
  // whose every message travels on the session outbox.
  std::shared_ptr<MessageStream> stream;
  std::shared_ptr<mcp::CancelToken> cancel = std::make_shared<mcp::CancelToken>();
  Json downstream_progress_token;  // null when the client asked for no progress
  std::string upstream;            // set once routed
  size_t request_bytes = 0;        // size of the downstream request as received
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // Set once a stateless request's upstream call asks for client input: from
  // then on its events go to whichever request continues the exchange.
  std::shared_ptr<Exchange> exchange;  // (Gateway::exchanges_mu_)
  // Who asked (the identity stage's verdict for this very request). Never
  // null once the request reaches the gateway.
  std::shared_ptr<const identity::Principal> principal;
  // A stateless request as received, kept until an upstream asks for input
  // (its digest binds the continuation to it) or the request ends.
  std::shared_ptr<const Json> request;
  std::atomic<bool> finished{false};   // the final response was sent

  // --- The record stage (record_stage.cpp) ---
  // The id the response carries in X-Portcullis-Request-Id and the audit
  // record carries in request_id.
  std::string request_id = next_request_id();
  int64_t identity_us = 0;              // set by the transport before handle_request
  std::atomic<int64_t> upstream_us{0};  // set when the upstream answers
  std::atomic<int64_t> total_us{0};     // set when the response is sent
  // What routing learned, for the record; written by the thread routing the
  // request before it forwards (so before any upstream callback runs).
  struct Routed {
    std::string name, original;  // tool or prompt name, or resource URI; its upstream name
    std::string upstream;        // where the route leads, known before any stage may refuse
    Json arguments;              // null unless audit.capture keeps them
    std::string pin_state;       // "blocked" when tool pinning refused the call
  } routed;
  static std::string next_request_id();

  // --- The guard stage (guard_stage.cpp) ---
  // X-Portcullis-Guardrails as received (set by the transport): guardrails
  // this request adds to the configured ones.
  std::string guardrails_header;
  // What the guardrails did, for the record. Written by the request thread
  // (mcp_pre_tool) and then by the thread that receives the upstream's
  // answer (mcp_post_tool), one after the other.
  struct Guarded {
    Json findings = Json::array();  // AuditFinding::to_json()s, never matched text
    int64_t us = 0;                 // time spent in guardrails
    bool blocked = false;           // a guardrail answered instead of the upstream
    bool redacted = false;          // a mutate guardrail changed a payload
  } guarded;

  // --- The authorize stage (authorize.cpp) ---
  std::string client_ip;  // the downstream peer's address; set by the transport, may be empty
  // The verdict, for the record; written by the thread that authorizes the
  // request, before it forwards or answers.
  struct Authorized {
    std::string decision;  // "" (no policies), "allowed" or "denied"
    std::vector<std::string> policy_ids;  // the determining policies
    std::string reason;                   // why it was denied, with policy errors
    std::string approval;  // "", "accepted", "declined", "cancelled", "unsupported", "error"
    int64_t us = 0;        // time spent deciding
  } authorized;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::string id, std::string virtual_server, bool legacy_sse);
  ~Session();

  // Set once by SessionTable before the session is published.
  std::string id;
  const std::string virtual_server;
  const bool legacy_sse;
  // A 2026-07-28 request served without a session: this object lives for one
  // request and carries its _meta (revision, capabilities, log level). It is
  // never published, owns no upstream links and has no outbox reader.
  bool stateless = false;

  // Whose session this is: Principal::key() of whoever initialized it,
  // sealed into the id. Every later request must come from the same
  // principal, or the session does not exist for it. Set once, before the
  // session is published.
  std::string owner;

  // Set by initialize (before any other request is accepted).
  std::string protocol_version;
  Json client_capabilities = Json::object();
  Json client_info = Json::object();
  std::atomic<bool> initialized{false};
  std::atomic<long long> last_seen_ms{0};
  std::atomic<int> open_streams{0};
  long long expires_ms = 0;  // when the sealed id stops being valid (0: never)
  // Upstream sessions sealed into the id (per_client Streamable HTTP
  // upstreams, when a session key is configured), by upstream: any instance
  // continues these rather than starting its own. Set once, before the
  // session is published.
  std::map<std::string, mcp::UpstreamLink::SessionHandle> upstream_handles;

  // Unsolicited messages: the GET stream (Streamable HTTP) or the SSE stream.
  MessageStream outbox{1024};

  // Sends a message related to `inflight` on its stream when it is still
  // open, else on the outbox.
  void deliver(const Json& message, const std::shared_ptr<InFlight>& inflight);
  void deliver(const std::string& serialized, const std::shared_ptr<InFlight>& inflight);

  bool client_supports(const std::string& capability) const {
    return client_capabilities.is_object() && client_capabilities.contains(capability);
  }

  // Closes links, cancels in-flight requests, ends streams. Idempotent.
  // `end_upstream`: false when the session only leaves this instance (idle
  // here, or shutdown) and may go on elsewhere: upstream sessions whose
  // handles were sealed into the id then stay alive.
  void close(bool end_upstream = true);
  bool closed() const { return closed_.load(); }

  std::mutex mu;
  struct LinkSlot {
    std::mutex mu;  // serializes creation
    std::shared_ptr<mcp::UpstreamLink> link;
    long long credential_expires = 0;  // stdio with a per-user token: restart before then
    std::function<void()> release;  // returns the upstream's session slot
  };
  std::map<std::string, std::shared_ptr<LinkSlot>> links;                  // (mu) per upstream
  std::unordered_map<std::string, std::shared_ptr<InFlight>> inflight;     // (mu) key: dumped id
  struct PendingServerRequest {
    std::weak_ptr<mcp::UpstreamLink> link;
    std::string upstream;
    Json upstream_id;
    // Set instead of `link` when the gateway itself asked (a 2026-07-28
    // upstream's input request): receives the client's response message.
    std::function<void(const Json&)> answer;
  };
  std::map<std::string, PendingServerRequest> server_requests;  // (mu) key: gateway id
  long long next_server_request = 1;                            // (mu)
  std::set<std::string> subscriptions;                          // (mu) resource URIs
  std::string log_level;                                        // (mu) empty: never set
  // The principal of the newest request, whose credentials per-user
  // upstream links use (its token may be fresher than the first one's).
  std::shared_ptr<const identity::Principal> principal;        // (mu)
  // Per-user upstreams whose catalogue this session has listed with its
  // own credentials (see Gateway::list_personal_catalogs).
  std::set<std::string> personal_listed;                        // (mu)
  struct PersonalFailure {
    std::string why;
    long long at_ms = 0;
  };
  std::map<std::string, PersonalFailure> personal_failures;     // (mu) upstream -> why it could not be listed
  // What this session's own upstream links list, once one of them announced
  // a list change; null until then (Gateway::catalog_of).
  std::shared_ptr<CatalogOverlay> catalogs;                     // (mu)

 private:
  std::atomic<bool> closed_{false};
};

// All live sessions. Thread-safe.
//
// A Streamable HTTP session id is sealed: "v1." + AES-256-GCM(key, {virtual
// server, protocol revision, client capabilities and info, expiry, upstream
// session handles}). Any instance holding the key can restore a session it
// never saw from its id alone, and continue its upstream sessions, so no
// shared store and no sticky routing are needed. Legacy SSE
// sessions live and die with their stream and get plain random ids.
class SessionTable {
 public:
  // REQUIRES: key.size() == 32.
  void configure(std::string key, std::chrono::milliseconds ttl);

  // A legacy SSE session of `owner` (Principal::key()).
  std::shared_ptr<Session> create(const std::string& virtual_server, bool legacy_sse, std::string owner);
  // Seals an initialized, not yet published session's state into its id and
  // publishes it.
  void publish(const std::shared_ptr<Session>& session);

  struct Found {
    std::shared_ptr<Session> session;  // null when not found
    std::string why;                   // for the client, when not found
  };
  // The live session with this id, or one restored from the sealed id.
  Found find_or_restore(const std::string& id);
  std::shared_ptr<Session> find(const std::string& id) const;
  // Closes the session (see Session::close); its id stays dead here.
  void erase(const std::string& id, bool end_upstream = true);
  std::vector<std::shared_ptr<Session>> all() const;
  std::vector<std::shared_ptr<Session>> of(const std::string& virtual_server) const;
  size_t size() const;
  // Closes sessions idle for longer than `idle` with no open stream.
  size_t reap(std::chrono::milliseconds idle);

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Session>> sessions_;
  std::unordered_map<std::string, long long> ended_;  // (mu_) id -> expiry: ended here, never restored
  std::string key_;                                   // (mu_)
  std::chrono::milliseconds ttl_{24 * 60 * 60 * 1000};  // (mu_)
};

long long now_ms();

}  // namespace portcullis::pipeline
