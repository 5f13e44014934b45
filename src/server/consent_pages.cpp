#include "server/consent_pages.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "pipeline/gateway.h"

namespace portcullis::server {

namespace {

std::string escape_html(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

void no_store(httplib::Response& r) {
  r.set_header("Cache-Control", "no-store");
  r.set_header("Referrer-Policy", "no-referrer");
  r.set_header("X-Frame-Options", "DENY");
  r.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  r.set_header("X-Content-Type-Options", "nosniff");
}

void page(httplib::Response& r, int status, const std::string& title, const std::string& text) {
  no_store(r);
  r.status = status;
  r.set_content("<!doctype html><html><head><meta charset=\"utf-8\"><title>Portcullis: " + escape_html(title) +
                    "</title></head><body><h1>" + escape_html(title) + "</h1><p>" + escape_html(text) +
                    "</p></body></html>",
                "text/html; charset=utf-8");
}

}  // namespace

void add_consent_routes(httplib::Server& svr, pipeline::Gateway& gw) {
  svr.Get(R"(/oauth/connect/([0-9a-f]{1,64}))", [&gw](const httplib::Request& q, httplib::Response& r) {
    auto consent = gw.consent();
    if (!consent) return page(r, 404, "Not found", "This gateway keeps no upstream credentials.");
    auto url = consent->authorization_url(q.matches[1]);
    if (!url.ok()) return page(r, 410, "Consent link not usable", url.error());
    no_store(r);
    r.status = 302;
    r.set_header("Location", url.value());
  });
  svr.Get("/oauth/confirm", [&gw](const httplib::Request& q, httplib::Response& r) {
    auto consent = gw.consent();
    if (!consent) return page(r, 404, "Not found", "This gateway keeps no upstream credentials.");
    std::string query;
    if (auto at = q.target.find('?'); at != std::string::npos) query = q.target.substr(at + 1);
    auto next = consent->confirm(query);
    if (!next.ok()) return page(r, 403, "Consent refused", next.error());
    no_store(r);
    r.status = 302;
    r.set_header("Location", next.value());
  });
  svr.Get("/oauth/callback", [&gw](const httplib::Request& q, httplib::Response& r) {
    auto consent = gw.consent();
    if (!consent) return page(r, 404, "Not found", "This gateway keeps no upstream credentials.");
    // The raw query: the response parameters exactly as the server sent them.
    std::string query;
    if (auto at = q.target.find('?'); at != std::string::npos) query = q.target.substr(at + 1);
    auto done = consent->complete(query);
    if (!done.ok()) return page(r, 400, "Authorization failed", done.error());
    gw.consent_given(done->upstream, done->user_key);
    consent->given(done->id);
    page(r, 200, "Connected",
         "Portcullis can now use '" + done->upstream + "' as " + done->user +
             ". You can close this window and return to your MCP client.");
  });
  svr.Get("/oauth/client-metadata.json", [&gw](const httplib::Request&, httplib::Response& r) {
    auto consent = gw.consent();
    if (!consent) return page(r, 404, "Not found", "This gateway keeps no upstream credentials.");
    r.set_header("Cache-Control", "max-age=300");
    r.set_content(consent->client_metadata_document().dump(), "application/json");
  });
}

}  // namespace portcullis::server
