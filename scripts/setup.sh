#!/usr/bin/env bash
# Installs the Debian 12 packages tapflow needs, only those missing.
# Idempotent and non-interactive; needs root when something is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev lld
  # libraries
  libboost-dev libnl-3-dev libnl-route-3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libssl-dev
  prometheus-cpp-dev libsystemd-dev
  # lab and test peers
  openvswitch-switch openvswitch-common openvswitch-testcontroller tshark iproute2
  iputils-ping ethtool iperf3 tcpdump mininet bird2 frr python3-os-ken nftables
  # high availability: the coordination service the instances elect masters in
  etcd-server etcd-client
  # dashboards: Prometheus (and promtool) for configs/prometheus/ and the
  # dashboard test; PyYAML for its rule files
  prometheus python3-yaml
  # the Debian package and its unit (scripts/build-deb.sh, system.package):
  # systemd-analyze, manual pages, bash completion
  systemd man-db bash-completion
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root (sudo $0) to install them" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
