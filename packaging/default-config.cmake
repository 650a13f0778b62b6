# Writes the packaged /etc/tapflow/tapflowd.yaml: configs/tapflowd.yaml with the service's paths.
# cmake -DIN=configs/tapflowd.yaml -DOUT=tapflowd.yaml -P default-config.cmake
file(READ "${IN}" text)

# replace_once(FROM TO): every edit must apply, so a change to
# configs/tapflowd.yaml that moves one of these lines breaks the build, not
# the package.
macro(replace_once from to)
  string(FIND "${text}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${IN}: expected text not found (update packaging/default-config.cmake): ${from}")
  endif()
  string(REPLACE "${from}" "${to}" text "${text}")
endmacro()

replace_once("#   tapflowd -c configs/tapflowd.yaml\n"
             "#   tapflowd -c /etc/tapflow/tapflowd.yaml      # what tapflowd.service runs\n#   systemctl reload tapflowd                  # applies ports, addresses, VLANs, punt rates, log level\n")
# The service's RuntimeDirectory (kept across restarts), readable by tapflow only.
replace_once("    name: tapflow-fdstore    # abstract socket name (per network namespace),\n"
             "    name: /run/tapflow/fdstore.sock  # abstract socket name (per network namespace),\n")
replace_once("    # log: /var/log/tapflow-fdstore.log    # the store's output (default /dev/null)"
             "    # log: /run/tapflow/fdstore.log        # the store's output (default /dev/null)")

file(WRITE "${OUT}" "${text}")
