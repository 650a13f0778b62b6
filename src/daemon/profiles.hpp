// Switch profiles in tapflowd: the profile each switch's config names,
// resolved against what the switch reported (pipeline/profile.hpp), logged
// once per connection and handed to tapd and routing alike.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "tapflow/controller/connection.hpp"
#include "tapflow/pipeline/profile.hpp"

namespace tapflow::daemon {

// What the config says of one switch's profile (router.switches[]).
struct ProfileConfig {
  std::optional<pipeline::ProfileKind> kind;    // unset: router.profile
  std::optional<std::uint32_t> table_capacity;  // unset: router.table_capacity, else reported
};

class ProfileBook {
 public:
  // `base`: router.profile, router.table_capacity and the configured layout.
  ProfileBook(pipeline::ProfileRequest base, std::map<std::uint64_t, ProfileConfig> switches);

  // The profile of this connection's switch. The same answer for tapd and
  // routing; logged (with what the switch could not do) when it changes.
  pipeline::SwitchProfile resolve(const controller::Datapath& dp);

  struct View {
    std::uint64_t dpid = 0;
    pipeline::SwitchProfile profile;
  };
  std::vector<View> view() const;

 private:
  struct Entry {
    pipeline::ProfileRequest request;
    pipeline::Capabilities caps;
    pipeline::SwitchProfile profile;
  };
  pipeline::ProfileRequest base_;
  std::map<std::uint64_t, ProfileConfig> switches_;
  std::map<std::uint64_t, Entry> resolved_;
};

}  // namespace tapflow::daemon
