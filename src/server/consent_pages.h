// The browser side of upstream consent (auth type oauth_user): the pages a
// user's browser visits, outside MCP.
//
//   GET /oauth/connect/<id>          the consent link of an elicitation:
//                                    redirects to the upstream's
//                                    authorization server
//   GET /oauth/confirm               with credentials.confirm_user: the
//                                    sign-in at the gateway's own issuer
//                                    that proves who opened the link comes
//                                    back here; the right user goes on
//   GET /oauth/callback              where that server sends the browser
//                                    back: the code is redeemed and the
//                                    token stored for the user who asked
//   GET /oauth/client-metadata.json  the gateway's Client ID Metadata
//                                    Document (https deployments)
//
// These routes carry no bearer token (a browser has none): what protects
// them is that the consent id and the OAuth state are unguessable, single
// use and short-lived, that the code is only redeemable with the PKCE
// verifier the gateway holds, and (with confirm_user) that only the user
// the link was made for gets past the sign-in. Pages are never cached, framed or given a
// referrer.
#pragma once

namespace httplib {
class Server;
}

namespace portcullis::pipeline {
class Gateway;
}

namespace portcullis::server {

void add_consent_routes(httplib::Server& svr, pipeline::Gateway& gateway);

}  // namespace portcullis::server
