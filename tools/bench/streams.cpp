// bench-streams: holds N MCP sessions open against a Streamable HTTP
// endpoint, each with its GET stream open, so a benchmark can measure what
// those streams cost everyone else.
//
//   bench-streams --url http://HOST:PORT/PATH --sessions N
//
// Uses one plain blocking socket per session and no threads: it opens the
// sessions one by one (initialize, then GET on the same keep-alive
// connection), prints "ready N" on stdout, and holds them until stdin closes
// or it is signalled. Exits non-zero if any session could not be opened.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

bool send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads one HTTP response head (and, when `body` is true, its
// Content-Length body). Returns the head, or empty on failure.
std::string read_response(int fd, bool body) {
  std::string buf;
  char tmp[4096];
  size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) return {};
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return {};
    buf.append(tmp, static_cast<size_t>(n));
  }
  std::string head = buf.substr(0, head_end);
  if (!body) return head;
  size_t need = 0;
  std::string lower = head;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (auto p = lower.find("content-length:"); p != std::string::npos) need = std::stoul(head.substr(p + 15));
  size_t have = buf.size() - head_end - 4;
  while (have < need) {
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return {};
    have += static_cast<size_t>(n);
  }
  return head;
}

std::string header_value(const std::string& head, const std::string& name_lower) {
  std::string lower = head;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto p = lower.find("\r\n" + name_lower + ":");
  if (p == std::string::npos) return {};
  p += 3 + name_lower.size();
  auto e = head.find("\r\n", p);
  std::string v = head.substr(p, e - p);
  while (!v.empty() && v.front() == ' ') v.erase(0, 1);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  long sessions = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--url") url = argv[i + 1];
    else if (a == "--sessions") sessions = std::stol(argv[i + 1]);
  }
  if (url.rfind("http://", 0) != 0 || sessions <= 0) {
    std::cerr << "usage: bench-streams --url http://HOST:PORT/PATH --sessions N\n";
    return 2;
  }
  std::string rest = url.substr(7);
  std::string hostport = rest.substr(0, rest.find('/'));
  std::string path = rest.substr(hostport.size());
  std::string host = hostport.substr(0, hostport.rfind(':'));
  int port = std::stoi(hostport.substr(hostport.rfind(':') + 1));

  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  const std::string init_body =
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench-streams","version":"1"}}})";
  std::vector<int> fds;
  for (long i = 0; i < sessions; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &sa.sin_addr);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      std::cerr << "bench-streams: connect failed after " << i << " sessions: " << std::strerror(errno) << "\n";
      return 1;
    }
    std::string post = "POST " + path + " HTTP/1.1\r\nHost: " + hostport +
                       "\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                       "Content-Length: " + std::to_string(init_body.size()) + "\r\n\r\n" + init_body;
    std::string head;
    if (!send_all(fd, post) || (head = read_response(fd, true)).empty()) {
      std::cerr << "bench-streams: initialize failed after " << i << " sessions\n";
      return 1;
    }
    std::string sid = header_value(head, "mcp-session-id");
    std::string get = "GET " + path + " HTTP/1.1\r\nHost: " + hostport +
                      "\r\nAccept: text/event-stream\r\nMcp-Session-Id: " + sid +
                      "\r\nMCP-Protocol-Version: 2025-11-25\r\n\r\n";
    if (sid.empty() || !send_all(fd, get) || (head = read_response(fd, false)).find(" 200") == std::string::npos) {
      std::cerr << "bench-streams: GET stream refused after " << i << " sessions: " << head.substr(0, 40) << "\n";
      return 1;
    }
    fds.push_back(fd);
  }
  std::cout << "ready " << fds.size() << std::endl;
  // Hold the streams, draining keep-alive comments, until stdin closes.
  std::vector<pollfd> polls;
  polls.push_back({0, POLLIN, 0});
  for (int fd : fds) polls.push_back({fd, POLLIN, 0});
  char sink[4096];
  for (;;) {
    if (poll(polls.data(), polls.size(), -1) < 0) continue;
    if (polls[0].revents) {
      if (::read(0, sink, sizeof sink) <= 0) break;
    }
    for (size_t i = 1; i < polls.size(); ++i) {
      if (polls[i].revents & POLLIN) (void)!::recv(polls[i].fd, sink, sizeof sink, 0);
    }
  }
  for (int fd : fds) ::close(fd);
  return 0;
}
