#!/usr/bin/env bash
# The agent under py-spy, for profiling a benchmark pass (bench/README.md, "Profiling"):
#   PROFILE_OUT=/tmp/gelf.txt .venv/bin/python bench/throughput.py --scenario gelf-1 \
#     --no-engine --runs 1 --lines 200000 --logship bench/profile-agent.sh
# py-spy attaches to the agent by pid and writes collapsed stacks (--format raw) to PROFILE_OUT
# when the agent exits; PROFILE_NATIVE=1 adds C frames (OpenSSL, zlib, libc). The benchmark then
# measures this script, not the agent: the CPU figures of such a run mean nothing.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.venv/bin"
"$venv/logship" "$@" &
agent=$!
trap 'kill -TERM $agent 2>/dev/null' TERM INT
native=()
[ "${PROFILE_NATIVE:-0}" = 1 ] && native=(--native)
"$venv/py-spy" record --pid "$agent" --rate 250 --format raw "${native[@]}" \
  -o "${PROFILE_OUT:-/tmp/logship-agent.prof.txt}" >/dev/null 2>&1 &
spy=$!
wait "$agent"  # returns early when the trap runs; wait again for the agent's exit
wait "$agent"
code=$?
wait "$spy"
exit "$code"
