// Factories of the concrete upstream transports (internal to the transport
// layer; everything else goes through make_transport()).
#pragma once
#include <memory>

#include "transport/upstream_transport.h"

namespace portcullis::transport {

std::unique_ptr<UpstreamTransport> make_stdio_transport(const config::UpstreamConfig& cfg);
std::unique_ptr<UpstreamTransport> make_sse_transport(const config::UpstreamConfig& cfg);
std::unique_ptr<UpstreamTransport> make_streamable_http_transport(const config::UpstreamConfig& cfg);

// Ignores SIGPIPE process-wide (once), so a write to a dead child or peer
// fails with EPIPE instead of killing the gateway.
void ignore_sigpipe();

}  // namespace portcullis::transport
