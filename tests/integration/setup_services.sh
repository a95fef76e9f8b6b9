#!/usr/bin/env bash
# tools/setup.sh installs only what the main job needs and leaves no service enabled
# (issue 15): the main list has no test-only package (SLURM, munge, h5py, numpy, HDF5
# tools), --test adds them; tools/run.sh calls the main mode, tools/test.sh and .ci/run the
# test mode; with a stub systemctl reporting munge/slurmd/slurmctld enabled, --check fails
# and a setup (LATFLOW_SKIP_APT=1) disables all three; on this machine --check passes
# (skipped on a configured SLURM node, /etc/slurm/slurm.conf).
# usage: setup_services.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
setup=$src/tools/setup.sh
testonly="slurmctld slurmd slurm-client munge python3-h5py python3-numpy hdf5-tools"

bash "$setup" --list > main.txt && ok "--list" || bad "--list failed"
bash "$setup" --list --test > test.txt && ok "--list --test" || bad "--list --test failed"
for p in $testonly; do
  grep -qx "$p" main.txt && bad "main job installs test-only $p"
  grep -qx "$p" test.txt || bad "--test lacks $p"
done
ok "test-only packages only in --test"
for p in cmake libopenmpi-dev libhdf5-openmpi-dev gnuplot-nox; do
  grep -qx "$p" main.txt || bad "main job lacks $p"
done
grep -Eq '^bash "\$root/tools/setup.sh"$' "$src/tools/run.sh" && ok "run.sh: main mode" \
  || bad "tools/run.sh does not call setup.sh without --test"
grep -q 'tools/setup.sh" --test' "$src/tools/test.sh" && ok "test.sh: test mode" \
  || bad "tools/test.sh does not call setup.sh --test"
grep -q 'tools/setup.sh --test' "$src/.ci/run" && ok ".ci/run: test mode" \
  || bad ".ci/run does not call setup.sh --test"

# stub systemctl: unit states in state/<unit>; sudo runs its command
mkdir -p stub state
for u in munge.service slurmd.service slurmctld.service; do echo enabled > "state/$u"; done
cat > stub/systemctl <<EOF
#!/bin/sh
echo "\$*" >> "$wd/calls.txt"
case "\$1" in
  is-enabled) [ -f "$wd/state/\$2" ] && cat "$wd/state/\$2" || echo disabled ;;
  is-active) exit 3 ;;
  disable) [ "\$2" = --quiet ] && shift; echo disabled > "$wd/state/\$2" ;;
esac
EOF
printf '#!/bin/sh\nexec "$@"\n' > stub/sudo
chmod +x stub/systemctl stub/sudo
if [ -e /etc/slurm/slurm.conf ]; then
  ok "stub checks skipped: a configured SLURM node keeps its units"
else
  PATH=$wd/stub:$PATH expect_code 1 "--check finds enabled units" -- bash "$setup" --check
  grep -q "slurmd.service enabled" out.txt && ok "--check names slurmd" || bad "--check output"
  PATH=$wd/stub:$PATH LATFLOW_SKIP_APT=1 expect_code 0 "setup disables the units" -- bash "$setup"
  for u in munge.service slurmd.service slurmctld.service; do
    [ "$(cat "state/$u")" = disabled ] || bad "$u left $(cat "state/$u")"
  done
  PATH=$wd/stub:$PATH expect_code 0 "--check after setup" -- bash "$setup" --check
  # the real machine: nothing enabled (CI: after .ci/run's setup --test)
  expect_code 0 "no munge/slurm unit enabled or active here" -- bash "$setup" --check
  cat out.txt
fi
finish setup_services
