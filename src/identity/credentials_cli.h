// `portcullis credentials`: what the credential vault holds, for operators.
//
//   portcullis credentials list [--user U] [--json]
//   portcullis credentials revoke --user U [--upstream NAME]
//
// U is a user's subject (as in the audit log's WHO column) or their full
// principal key. Token values are never shown. Revocation takes effect in a
// running gateway within seconds (it re-reads the vault before using a
// cached token), and the user's next call asks for consent again.
#pragma once
#include <string>
#include <vector>

#include "config/config.h"

namespace portcullis::identity {

int run_credentials_cli(const std::vector<std::string>& args, const config::CredentialSettings& settings);

}  // namespace portcullis::identity
