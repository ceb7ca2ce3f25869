#include "server/metrics/metrics_endpoint.h"

#include <prometheus/gauge.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace qf::server {
namespace {

// civetweb (under prometheus-cpp's Exposer) refuses port 0, so an address
// ending in ":0" gets a port the kernel hands out for an IPv4 socket bound
// and closed here. Another process could take it in between; a bind failure
// is then reported like any other.
absl::StatusOr<std::string> ResolveAnyPort(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || address.substr(colon + 1) != "0") return address;
  std::string host = address.substr(0, colon);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::UnavailableError("cannot create a socket to pick a metrics port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) addr.sin_addr.s_addr = INADDR_ANY;
  socklen_t length = sizeof(addr);
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                     getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0;
  close(fd);
  if (!bound) return absl::UnavailableError(absl::StrCat("cannot pick a free port on ", host));
  return absl::StrCat(host, ":", ntohs(addr.sin_port));
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Create(
    const std::string& address) {
  auto endpoint = std::make_unique<MetricsEndpoint>(PrivateToken{});
  endpoint->registry_ = std::make_shared<prometheus::Registry>();
  endpoint->process_ = std::make_shared<ProcessCollector>();
  auto bind_address = ResolveAnyPort(address);
  if (!bind_address.ok()) return bind_address.status();
  try {
    endpoint->exposer_ = std::make_unique<prometheus::Exposer>(*bind_address, 2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  endpoint->exposer_->RegisterCollectable(endpoint->registry_);
  endpoint->exposer_->RegisterCollectable(endpoint->process_);
  const auto ports = endpoint->exposer_->GetListeningPorts();
  endpoint->port_ = ports.empty() ? 0 : ports.front();
  return endpoint;
}

}  // namespace qf::server
