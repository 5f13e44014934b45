#include <csignal>
#include <mutex>

#include "transport/transports_impl.h"

namespace portcullis::transport {

void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
      struct sigaction sa {};
      sa.sa_handler = SIG_IGN;
      sigemptyset(&sa.sa_mask);
      sigaction(SIGPIPE, &sa, nullptr);
    }
  });
}

std::unique_ptr<UpstreamTransport> make_transport(const config::UpstreamConfig& cfg) {
  ignore_sigpipe();
  switch (cfg.transport) {
    case config::Transport::Stdio: return make_stdio_transport(cfg);
    case config::Transport::Sse: return make_sse_transport(cfg);
    case config::Transport::StreamableHttp: return make_streamable_http_transport(cfg);
  }
  return make_stdio_transport(cfg);
}

}  // namespace portcullis::transport
