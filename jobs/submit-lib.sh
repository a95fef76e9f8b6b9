# jobs/submit-lib.sh — shared by jobs/submit.sh and jobs/submit-study.sh (sourced on the
# login node, never run; the batch scripts use jobs/common.sh instead).
#   die MSG            print "<prog>: ERROR: MSG" and exit 2 (SUBMIT_PROG names the script)
#   usage STATUS       print the script's header comment (stdout for 0, else stderr), exit
#   common_opt ARGS    if $1 is an option both scripts take (--ranks --threads --time
#                      --warn --dir --parallel --sbatch --dry-run --help), sets its variable
#                      and NSHIFT to the words it used; NSHIFT=0 for any other word
#   check_counts VAR...  each VAR must hold a positive integer (the --var option's value)
#   tsec LIMIT         seconds of an sbatch time limit: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S
#   check_time         TIME must be an sbatch limit of at least a minute; sets TSEC and
#                      lowers WARN to a third of it
#   sub STAGE ARGS...  sbatch --parsable ARGS (DRY=1: print the command, echo "<STAGE>"),
#                      prints the job id
#   fail MSG           scancel the jobs in submitted[], then die MSG
# shellcheck shell=bash
# shellcheck disable=SC2034
die() { echo "${SUBMIT_PROG:-submit}: ERROR: $*" >&2; exit 2; }
usage() {  # the header of the calling script, up to its "docs/CLUSTER.md" line
  if [ "${1:-0}" = 0 ]; then sed -n '2,/^# docs\/CLUSTER.md/p' "$0" | sed 's/^# \{0,1\}//'
  else sed -n '2,/^# docs\/CLUSTER.md/p' "$0" | sed 's/^# \{0,1\}//' >&2; fi
  exit "${1:-0}"
}
common_opt() {
  NSHIFT=2
  case $1 in
    --ranks) RANKS=${2:-} ;;
    --threads) THREADS=${2:-} ;;
    --time) TIME=${2:-} ;;
    --warn) WARN=${2:-} ;;
    --dir) DIR=${2:-} ;;
    --parallel) PARALLEL=${2:-} ;;
    --sbatch) EXTRA=${2:-} ;;
    --dry-run) DRY=1; NSHIFT=1 ;;
    -h | --help) usage 0 ;;
    *) NSHIFT=0 ;;
  esac
  [ $# -ge "$NSHIFT" ] || die "$1 needs a value"
}
check_counts() {
  local v
  for v in "$@"; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--${v,,} needs a positive integer, got '${!v}'"
  done
  [ -z "${PARALLEL:-}" ] || [[ $PARALLEL =~ ^[1-9][0-9]*$ ]] || die "--parallel needs a positive integer"
}
tsec() {
  local t=$1 d=0 a b c
  [[ $t == *-* ]] && { d=${t%%-*}; t=${t#*-}; }
  IFS=: read -r a b c <<<"$t"
  if [ "$d" != 0 ] || [[ $1 == *-* ]]; then echo $(( d*86400 + 10#${a:-0}*3600 + 10#${b:-0}*60 + 10#${c:-0} ))
  elif [ -n "$c" ]; then echo $(( 10#$a*3600 + 10#$b*60 + 10#$c ))
  elif [ -n "$b" ]; then echo $(( 10#$a*60 + 10#$b ))
  else echo $(( 10#$a*60 )); fi
}
check_time() {
  [[ $TIME =~ ^([0-9]+-)?[0-9]+(:[0-9]+){0,2}$ ]] || die "--time: not an sbatch time limit: '$TIME'"
  TSEC=$(tsec "$TIME")
  [ "$TSEC" -ge 60 ] || die "--time: at least one minute"
  # SLURM checks the warning time about every 30-60 s: a warning longer than a third of the
  # limit would leave each run little time to work before it checkpoints and requeues
  if [ $((3 * WARN)) -gt "$TSEC" ]; then
    WARN=$((TSEC / 3))
    echo "${SUBMIT_PROG:-submit}: --warn lowered to $WARN s (a third of the time limit)" >&2
  fi
}
submitted=()
sub() {
  local out id
  if [ "${DRY:-0}" = 1 ]; then
    echo "sbatch ${*:2}" >&2; echo "<$1>"; return 0
  fi
  out=$(sbatch --parsable "${@:2}") || return 1
  id=${out%%;*}
  [[ $id =~ ^[0-9]+$ ]] || return 1
  echo "$id"
}
fail() {  # cancel what was submitted before the failure
  [ ${#submitted[@]} -gt 0 ] && scancel "${submitted[@]}" 2>/dev/null
  die "$*"
}
