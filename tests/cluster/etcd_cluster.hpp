// Test helpers: real etcd members on free loopback ports (own data dirs, killed
// by PID and removed in teardown), a TCP proxy that can cut a client off, and
// an io_context runner.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace tapflow::cluster::testing {

using namespace std::chrono_literals;

// A port nobody listens on now (the kernel's choice for an ephemeral bind).
inline unsigned short free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

// The etcd program: $TAPFLOW_ETCD, or "etcd" on the PATH; "" if neither.
inline std::string etcd_program() {
  if (const char* env = ::getenv("TAPFLOW_ETCD"); env && *env)
    return ::access(env, X_OK) == 0 ? env : "";
  const char* path = ::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((dir + "/etcd").c_str(), X_OK) == 0) return dir + "/etcd";
  return {};
}

// A blocking HTTP GET on loopback; the whole answer, "" on failure.
inline std::string http_get(unsigned short port, const std::string& path) {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{1, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  std::string out;
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::write(s, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = ::read(s, buf, sizeof buf)) > 0;)
        out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(s);
  return out;
}

// 1 or 3 etcd members. Everything is torn down in the destructor: processes
// by PID (SIGKILL, then reaped), the temporary directory removed.
class EtcdCluster {
 public:
  struct Member {
    std::string name;
    unsigned short client_port = 0, peer_port = 0;
    pid_t pid = -1;
    std::string data_dir, log;
    bool tls = false;
    std::string client_url() const {
      return (tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(client_port);
    }
    std::string peer_url() const { return "http://127.0.0.1:" + std::to_string(peer_port); }
  };

  explicit EtcdCluster(int members = 1,
                       std::vector<std::string> timers = {"--heartbeat-interval", "50",
                                                          "--election-timeout", "500"})
      : timers_(std::move(timers)) {
    char tmpl[] = "/tmp/tapflow-etcd-XXXXXX";
    if (::mkdtemp(tmpl)) dir_ = tmpl;
    members_.resize(static_cast<std::size_t>(members));
  }
  ~EtcdCluster() {
    for (std::size_t i = 0; i < members_.size(); ++i) kill(i);
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // Certificates made by `openssl` in the temporary directory: a CA, the
  // members' (for IP 127.0.0.1) and a client's.
  struct TlsFiles {
    std::string ca, ca_key, server_cert, server_key, client_cert, client_key;
  };
  // Members then serve clients over TLS only, and demand a client certificate.
  // "" or why not. Call before start().
  std::string use_tls() {
    const std::string d = dir_ + "/tls";
    std::filesystem::create_directories(d);
    tls_ = TlsFiles{d + "/ca.pem",     d + "/ca.key",     d + "/server.pem",
                    d + "/server.key", d + "/client.pem", d + "/client.key"};
    std::ofstream(d + "/server.ext") << "subjectAltName=IP:127.0.0.1\n"
                                        "extendedKeyUsage=serverAuth,clientAuth\n";
    std::ofstream(d + "/client.ext") << "extendedKeyUsage=clientAuth\n";
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string cmds[] = {
        "openssl req -x509" + key + " -keyout " + tls_->ca_key + " -out " + tls_->ca +
            " -days 1 -subj /CN=tapflow-test-ca",
        "openssl req" + key + " -keyout " + tls_->server_key + " -out " + d +
            "/server.csr -subj /CN=127.0.0.1",
        "openssl x509 -req -in " + d + "/server.csr -CA " + tls_->ca + " -CAkey " + tls_->ca_key +
            " -CAcreateserial -out " + tls_->server_cert + " -days 1 -extfile " + d + "/server.ext",
        "openssl req" + key + " -keyout " + tls_->client_key + " -out " + d +
            "/client.csr -subj /CN=tapflow-test-client",
        "openssl x509 -req -in " + d + "/client.csr -CA " + tls_->ca + " -CAkey " + tls_->ca_key +
            " -CAcreateserial -out " + tls_->client_cert + " -days 1 -extfile " + d + "/client.ext",
    };
    for (const auto& c : cmds)
      if (std::system((c + " >" + d + "/openssl.log 2>&1").c_str()) != 0) return "failed: " + c;
    for (auto& m : members_) m.tls = true;
    return {};
  }
  const std::optional<TlsFiles>& tls() const { return tls_; }

  // Starts every member and waits until the cluster is healthy; "" or why not.
  std::string start() {
    program_ = etcd_program();
    if (program_.empty())
      return "the etcd program is not installed (etcd-server; or set TAPFLOW_ETCD)";
    if (dir_.empty()) return "mkdtemp failed";
    std::string why;
    for (int round = 0; round < 3; ++round) {  // a port taken meanwhile: new ports
      for (std::size_t i = 0; i < members_.size(); ++i) kill(i);
      for (std::size_t i = 0; i < members_.size(); ++i) {
        auto& m = members_[i];
        m.name = "m" + std::to_string(i);
        m.client_port = free_port();
        m.peer_port = free_port();
        m.data_dir = dir_ + "/round" + std::to_string(round) + "-" + m.name;
        m.log = m.data_dir + ".log";
      }
      for (std::size_t i = 0; i < members_.size(); ++i) spawn(i, "new");
      if ((why = wait_healthy(15s)).empty()) return {};
    }
    return why;
  }

  std::size_t size() const { return members_.size(); }
  const Member& member(std::size_t i) const { return members_[i]; }
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const auto& m : members_) out.push_back(m.client_url());
    return out;
  }

  // SIGKILL and reap, by PID.
  void kill(std::size_t i) {
    auto& m = members_[i];
    if (m.pid <= 0) return;
    ::kill(m.pid, SIGKILL);
    int status = 0;
    ::waitpid(m.pid, &status, 0);
    m.pid = -1;
  }
  // Starts a killed member again on its data dir and ports.
  void restart(std::size_t i) { spawn(i, "existing"); }
  bool running(std::size_t i) const { return members_[i].pid > 0; }

  // The index of the raft leader, per `etcdctl endpoint status`; -1 unknown.
  int leader() const {
    std::string eps;
    for (std::size_t i = 0; i < members_.size(); ++i)
      if (members_[i].pid > 0) eps += (eps.empty() ? "" : ",") + members_[i].client_url();
    const std::string cmd = "ETCDCTL_API=3 etcdctl --command-timeout=2s --endpoints=" + eps +
                            " endpoint status -w json 2>/dev/null";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
      ::pclose(p);
    }
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (!j.is_array()) return -1;
    for (const auto& s : j) {
      const auto& st = s.value("Status", nlohmann::json::object());
      if (!st.contains("leader") || !st.contains("header")) continue;
      if (st["leader"] != st["header"].value("member_id", nlohmann::json())) continue;
      const auto ep = s.value("Endpoint", std::string());
      for (std::size_t i = 0; i < members_.size(); ++i)
        if (members_[i].client_url() == ep) return static_cast<int>(i);
    }
    return -1;
  }

  // A member's log, for failure messages.
  std::string log(std::size_t i) const {
    std::ifstream f(members_[i].log);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  std::string wait_healthy(std::chrono::milliseconds limit) const {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      bool all = true;
      for (const auto& m : members_)
        if (m.pid > 0 && !healthy(m)) all = false;
      if (all) return {};
      std::this_thread::sleep_for(50ms);
    }
    return "etcd did not become healthy; log of m0:\n" + log(0);
  }

 private:
  bool healthy(const Member& m) const {
    if (!tls_)
      return http_get(m.client_port, "/health").find("\"health\":\"true\"") != std::string::npos;
    const std::string cmd =
        "ETCDCTL_API=3 etcdctl --command-timeout=1s --endpoints=" + m.client_url() +
        " --cacert=" + tls_->ca + " --cert=" + tls_->client_cert + " --key=" + tls_->client_key +
        " endpoint health >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  }

  void spawn(std::size_t i, const char* state) {
    auto& m = members_[i];
    std::string initial;
    for (const auto& o : members_)
      initial += (initial.empty() ? "" : ",") + o.name + "=" + o.peer_url();
    std::vector<std::string> args = {program_,
                                     "--name",
                                     m.name,
                                     "--data-dir",
                                     m.data_dir,
                                     "--listen-client-urls",
                                     m.client_url(),
                                     "--advertise-client-urls",
                                     m.client_url(),
                                     "--listen-peer-urls",
                                     m.peer_url(),
                                     "--initial-advertise-peer-urls",
                                     m.peer_url(),
                                     "--initial-cluster",
                                     initial,
                                     "--initial-cluster-state",
                                     state,
                                     "--initial-cluster-token",
                                     "tapflow-test-" + std::to_string(::getpid()),
                                     "--logger",
                                     "zap",
                                     "--log-outputs",
                                     "stderr"};
    args.insert(args.end(), timers_.begin(), timers_.end());
    if (tls_)
      args.insert(args.end(), {"--cert-file", tls_->server_cert, "--key-file", tls_->server_key,
                               "--trusted-ca-file", tls_->ca, "--client-cert-auth"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
      // Dies with the test, whatever kills the test.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      const int fd = ::open(m.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      const int null = ::open("/dev/null", O_RDONLY);
      if (null >= 0) ::dup2(null, 0);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    m.pid = pid;
  }

  std::vector<std::string> timers_;
  std::optional<TlsFiles> tls_;
  std::string program_;
  std::string dir_;
  std::vector<Member> members_;
};

// A TCP proxy to one upstream port, on its own thread. cut() is a partition:
// open connections go silent (nothing forwarded, nothing closed) and new ones
// are accepted and ignored, so the client sees timeouts, as across a dead
// network; restore() forwards again (new connections only).
class TcpProxy {
 public:
  using tcp = boost::asio::ip::tcp;

  explicit TcpProxy(unsigned short upstream)
      : upstream_(upstream),
        acceptor_(io_, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)),
        work_(boost::asio::make_work_guard(io_)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TcpProxy() {
    boost::asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto& s : sockets_) s->close(ec);
      work_.reset();
    });
    thread_.join();
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }

  void cut() {
    sync([this] { cut_ = true; });
  }
  void restore() {
    sync([this] {
      cut_ = false;
      boost::system::error_code ec;
      for (auto& s : sockets_) s->close(ec);  // the silent ones: the peer sees a reset
      sockets_.clear();
    });
  }

 private:
  using Socket = std::shared_ptr<tcp::socket>;

  void sync(std::function<void()> f) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      auto down = std::make_shared<tcp::socket>(std::move(s));
      sockets_.push_back(down);
      if (!cut_) {
        auto up = std::make_shared<tcp::socket>(io_);
        sockets_.push_back(up);
        up->async_connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), upstream_),
                          [this, down, up](boost::system::error_code ec2) {
                            if (ec2) {
                              boost::system::error_code ignored;
                              down->close(ignored);
                              return;
                            }
                            pump(down, up);
                            pump(up, down);
                          });
      }
      accept();
    });
  }

  void pump(Socket from, Socket to) {
    auto buf = std::make_shared<std::array<char, 16384>>();
    from->async_read_some(boost::asio::buffer(*buf),
                          [this, from, to, buf](boost::system::error_code ec, std::size_t n) {
                            if (cut_) return;  // silence: keep both open, forward nothing
                            boost::system::error_code ignored;
                            if (ec) {
                              to->shutdown(tcp::socket::shutdown_send, ignored);
                              if (ec != boost::asio::error::eof) to->close(ignored);
                              return;
                            }
                            boost::asio::async_write(
                                *to, boost::asio::buffer(*buf, n),
                                [this, from, to, buf](boost::system::error_code ec2, std::size_t) {
                                  if (ec2 || cut_) return;
                                  pump(from, to);
                                });
                          });
  }

  unsigned short upstream_;
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  bool cut_ = false;
  std::vector<Socket> sockets_;
};

// Runs `io` until `done()` or `limit`; true if done.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  auto guard = boost::asio::make_work_guard(io);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    io.run_for(5ms);
    if (io.stopped()) io.restart();
  }
  return true;
}

inline void run_for(boost::asio::io_context& io, std::chrono::milliseconds d) {
  run_until(
      io, [] { return false; }, d);
}

}  // namespace tapflow::cluster::testing
