// NetlinkWatcher cost of following a route burst: datagrams per recvmmsg() 16 beside 1.
//
// In a namespace of its own (root), `ip -batch` adds then deletes N routes
// while a NetlinkWatcher (routes) follows them on its own thread; measured
// per phase: the watcher thread's CPU time and the wall time until it has
// seen the last change. Each setting runs `rounds` times, interleaved, in one
// process, so the ratio is what counts, not the absolute times.
//
//   netlink_watch_bench [--routes N] [--rounds R]
#include <CLI/CLI.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "tapflow/netns/namespace.hpp"
#include "tapflow/netns/netlink_watcher.hpp"

using namespace tapflow;

namespace {

double thread_cpu() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void sh(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
}

struct Phase {
  double cpu = 0, wall = 0;
  std::uint64_t messages = 0, overruns = 0;
};

// One watcher; `ip -batch FILE` run in the namespace; back when `done(routes)`.
Phase follow(const netns::NetNamespace& ns, unsigned per_call, const std::string& batch,
             std::size_t want_routes) {
  boost::asio::io_context io(1);
  netns::WatcherOptions o;
  o.recvs_per_call = per_call;
  std::promise<void> synced, finished;
  std::atomic<bool> armed{false};
  double cpu0 = 0, cpu1 = 0;
  auto t0 = std::chrono::steady_clock::now(), t1 = t0;
  bool synced_once = false, done = false;
  std::size_t last_seen = 0;
  netns::NetlinkWatcher w(io, ns, netns::NetlinkWatcher::kRoutes,
                          [&](const netns::KernelState& st, const netns::Changes&) {
                            if (!synced_once) {
                              synced_once = true;
                              synced.set_value();
                            }
                            last_seen = st.routes.size();
                            if (armed && !done && st.routes.size() == want_routes) {
                              done = true;
                              cpu1 = thread_cpu();
                              t1 = std::chrono::steady_clock::now();
                              finished.set_value();
                            }
                          },
                          o);
  w.start();
  std::thread loop([&] { io.run(); });
  synced.get_future().wait();
  boost::asio::post(io, [&] {
    cpu0 = thread_cpu();
    t0 = std::chrono::steady_clock::now();
    armed = true;
  });
  while (!armed) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  sh("ip -n " + ns.name() + " -batch " + batch);
  auto f = finished.get_future();
  if (f.wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
    io.stop();
    loop.join();
    throw std::runtime_error("the watcher did not see the routes within 120 s: " +
                             std::to_string(last_seen) + " routes, want " + std::to_string(want_routes));
  }
  Phase p;
  p.cpu = cpu1 - cpu0;
  p.wall = std::chrono::duration<double>(t1 - t0).count();
  boost::asio::post(io, [&] {
    p.messages = w.counters().messages;
    p.overruns = w.counters().overruns;
    w.stop();
    io.stop();
  });
  loop.join();
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"NetlinkWatcher route-burst cost: recvmmsg 16 per call beside 1"};
  std::size_t routes = 200000;
  int rounds = 3;
  app.add_option("--routes", routes, "routes added then deleted per phase");
  app.add_option("--rounds", rounds, "runs of each setting (interleaved)");
  CLI11_PARSE(app, argc, argv);

  const std::string name = "tfnlbench" + std::to_string(::getpid());
  const std::string dir = "/tmp/" + name;
  int rc = 0;
  try {
    auto ns = netns::NetNamespace::open_or_create(name);
    sh("mkdir -p " + dir);
    sh("ip -n " + name + " link add d0 type veth peer name d1 && ip -n " + name + " link set d1 up && ip -n " + name + " addr add 10.255.0.1/16 dev d0 && ip -n " +
       name + " link set d0 up");
    {
      std::ofstream add(dir + "/add"), del(dir + "/del");
      for (std::size_t i = 0; i < routes; ++i) {
        const unsigned a = 1 + static_cast<unsigned>(i >> 16), b = (i >> 8) & 0xff, c = i & 0xff;
        const std::string p = std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c) + ".0/24";
        add << "route add " << p << " via 10.255.0.2\n";
        del << "route del " << p << " via 10.255.0.2\n";
      }
    }
    // The namespace's own routes (the connected /16, local and IPv6 link-local
    // entries, once the links settled) stay.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const std::size_t base = [&] {
      boost::asio::io_context io(1);
      std::size_t n = 0;
      netns::NetlinkWatcher w(io, ns, netns::NetlinkWatcher::kRoutes,
                              [&](const netns::KernelState& st, const netns::Changes&) {
                                n = st.routes.size();
                                io.stop();
                              });
      w.start();
      io.run();
      return n;
    }();
    std::printf("%zu routes added then deleted, %d rounds; watcher thread CPU and wall time until "
                "the last change was seen\n",
                routes, rounds);
    std::printf("%-14s %-6s %10s %10s %12s %9s\n", "per call", "phase", "cpu s", "wall s", "messages", "overruns");
    double sum[2][2] = {{0, 0}, {0, 0}};  // [setting][cpu, wall]
    const unsigned settings[2] = {1, 16};
    for (int r = 0; r < rounds; ++r) {
      for (int k = 0; k < 2; ++k) {
        const Phase a = follow(ns, settings[k], dir + "/add", base + routes);
        const Phase d = follow(ns, settings[k], dir + "/del", base);
        for (const auto& [phase, p] : {std::pair<const char*, const Phase&>{"add", a}, {"del", d}}) {
          std::printf("%-14u %-6s %10.3f %10.3f %12llu %9llu\n", settings[k], phase, p.cpu, p.wall,
                      static_cast<unsigned long long>(p.messages),
                      static_cast<unsigned long long>(p.overruns));
        }
        sum[k][0] += a.cpu + d.cpu;
        sum[k][1] += a.wall + d.wall;
      }
    }
    std::printf("watcher CPU, 16 per call / 1 per call: %.2f (wall %.2f)\n", sum[1][0] / sum[0][0],
                sum[1][1] / sum[0][1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "netlink_watch_bench: %s\n", e.what());
    rc = 1;
  }
  try {
    netns::NetNamespace::remove(name);
  } catch (const std::exception&) {
  }
  std::system(("rm -rf " + dir).c_str());
  return rc;
}
