# shellcheck shell=bash
# tests/lib.sh — the shared part of tests/integration/*.sh and tests/faults/*.sh. It lives
# here, not in those folders: CTest registers every *.sh there as a test.
#
# Contract. A test is run by CTest (tests/CMakeLists.txt) as
#   bash <dir>/<name>.sh LATFLOW WORKDIR SOURCEDIR
# and its exit status is its result: 0 passed, 1 failed, 77 skipped. It starts
#   set -u
#   # shellcheck source=tests/lib.sh
#   . "$(dirname "$0")/../lib.sh" || exit 1
#   lf_setup "$@"            # (after any skip test that must not touch WORKDIR)
# then checks with ok/bad (or expect_code/expect_err...), and ends with `finish [NAME]`,
# which exits. Sourcing defines functions and sets fails=0 passes=0; it sets no shell
# options and runs nothing else. The helpers run in WORKDIR and write out.txt and err.txt
# there. An assignment before a helper (VAR=x expect_code ...) reaches the command it runs.
#
# lf_setup LATFLOW WORKDIR [SOURCEDIR]
#     lf = LATFLOW as an absolute path, merge = the latflow-merge next to it, src =
#     SOURCEDIR absolute (empty if not given), wd = WORKDIR emptied (rm -rf), created and
#     made the current directory (absolute); exports OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM)=1 and
#     OPENBLAS_NUM_THREADS=1, unsets the test hooks LATFLOW_TEST_INTERRUPT and LATFLOW_FAULT.
#     Exits 1 on a missing argument or when WORKDIR cannot be made.
# ok MSG / bad MSG      count a pass / a failure and print "ok   MSG" / "FAIL MSG"
# skip MSG              print "skip: MSG" and exit 77
# finish [NAME]         print "[NAME: ]P passed, F failed"; exit 0 if F = 0, else 1
# expect_code CODE DESC -- CMD...
#     run CMD, stdout to out.txt, stderr to err.txt; ok "DESC (exit N)" if its exit code is
#     CODE (CODE "nz": any nonzero code), else bad and the tail of err.txt
# expect_err TEXT DESC      ok if err.txt contains the fixed string TEXT, else bad
# expect_err_re REGEX DESC  the same with an extended regular expression (grep -E)
# json_num KEY          the number of the first "KEY": in out.txt
# mpi N CMD...          CMD under mpiexec -n N (--oversubscribe with Open MPI); `mpi ... &`
#                       gives the pid of a subshell: to signal mpiexec itself, start it directly
# h5same F1 F2 OBJ      status 0 iff dataset OBJ is bitwise equal in F1 and F2 (h5diff,
#                       no tolerance; datasets of other lengths, which h5diff calls "not
#                       comparable" with exit 0, count as different)
# Kill and resume (the fault hooks of tests/faults/kill_*.sh):
# killed DESC RC        ok if RC is that of a process killed by SIGKILL (137 or 9)
# resume_ok DESC LOG CMD...   ok if CMD (output to LOG) exits 0
# leftovers DIR DESC    ok if DIR holds no checkpoint, part or temporary file
# same_ens REF FILE CHAINS DESC   datasets obs configs row id logw dH accepted of chains 0 ..
#                       CHAINS-1 of FILE bitwise REF's (h5same), then leftovers of FILE's folder

fails=0; passes=0
ok()  { passes=$((passes + 1)); echo "ok   $*"; }
bad() { fails=$((fails + 1)); echo "FAIL $*"; }
skip() { echo "skip: $*"; exit 77; }
finish() {
  echo "${1:+$1: }$passes passed, $fails failed"
  [ "$fails" = 0 ] && exit 0
  exit 1
}

# shellcheck disable=SC2034 # lf, merge, src: for the test
lf_setup() {
  if [ $# -lt 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
    echo "usage: $(basename "$0") LATFLOW WORKDIR [SOURCEDIR]" >&2; exit 1
  fi
  lf=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") || exit 1
  merge=$(dirname "$lf")/latflow-merge
  src=""
  if [ -n "${3:-}" ]; then src=$(cd "$3" && pwd) || exit 1; fi
  wd=$2
  rm -rf "$wd"; mkdir -p "$wd" && cd "$wd" || exit 1
  wd=$PWD
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
  unset LATFLOW_TEST_INTERRUPT LATFLOW_FAULT
}

expect_code() {
  local want=$1 desc=$2; shift 3
  "$@" >out.txt 2>err.txt; local got=$?
  if [ "$got" = "$want" ] || { [ "$want" = nz ] && [ "$got" != 0 ]; }; then ok "$desc (exit $got)"
  else bad "$desc: exit $got, want ${want/#nz/a nonzero code}"; tail -20 err.txt; fi
}
expect_err() {
  if grep -qF -- "$1" err.txt; then ok "$2: '$1'"; else bad "$2: stderr lacks '$1'"; tail -20 err.txt; fi
}
expect_err_re() {
  if grep -qE -- "$1" err.txt; then ok "$2: /$1/"; else bad "$2: stderr lacks /$1/"; tail -20 err.txt; fi
}
json_num() { grep -m1 "\"$1\":" out.txt | sed 's/.*://; s/[[:space:],]//g'; }

mpi() {
  local n=$1; shift
  if [ -z "${LF_MPI_OVERSUB+x}" ]; then
    LF_MPI_OVERSUB=""
    mpiexec --version 2>&1 | grep -q "Open MPI\|OpenRTE" && LF_MPI_OVERSUB=--oversubscribe
  fi
  mpiexec -n "$n" ${LF_MPI_OVERSUB:+"$LF_MPI_OVERSUB"} "$@"
}
h5same() {
  local o
  o=$(h5diff -c "$1" "$2" "$3" "$3" 2>&1) && ! grep -qi "not comparable" <<<"$o"
}

# ---- kill and resume (tests/faults/kill_*.sh) ----------------------------------------------
# killed DESC RC: the run died by the hook (not a clean exit)
killed() { case "$2" in 137|9) ok "$1: killed (exit $2)" ;; *) bad "$1: not killed by the hook (exit $2)" ;; esac; }
# leftovers DIR DESC: no checkpoint, part or temporary file after the resume
leftovers() {
  local left; left=$(cd "$1" && ls ./*.ckpt.h5* ./*.tmp ./hmc.part* 2>/dev/null | tr '\n' ' ')
  [ -z "$left" ] && ok "$2: no checkpoint, part or temporary file left" || bad "$2: left $left"
}
same_ens() { # REF FILE CHAINS DESC
  local diff="" c d
  [ -f "$2" ] || { bad "$4: no $2"; return; }
  for c in $(seq 0 $(($3 - 1))); do
    for d in obs configs row id logw dH accepted; do
      h5same "$1" "$2" /chain_$c/$d || diff="$diff chain_$c/$d"
    done
  done
  [ -z "$diff" ] && ok "$4: bitwise equal to the uninterrupted run" || bad "$4: differs in$diff"
  leftovers "$(dirname "$2")" "$4"
}

# resume_ok DESC LOG CMD...: the --resume exits 0
resume_ok() {
  local desc=$1 log=$2; shift 2
  "$@" > "$log" 2>&1; local rc=$?
  [ $rc = 0 ] && ok "$desc: --resume exit 0" || { bad "$desc: --resume exit $rc"; tail -3 "$log"; }
}
