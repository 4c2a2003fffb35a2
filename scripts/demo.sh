#!/usr/bin/env bash
# The demo: set up the host, then converge the two-tier example on Docker and show
# that dockwright does what it says: a plan, an apply, a no-op second pass, and the
# client reaching its database through the link alias.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DW=.venv/bin/dockwright
EX=examples/two-tier
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step "dockwright validate $EX";  $DW validate "$EX"
step "dockwright diff $EX";      $DW diff "$EX" || [ $? -eq 2 ]
step "dockwright apply $EX";     $DW apply "$EX"
step "dockwright diff $EX   # a second pass has nothing to do (exit 0)"; $DW diff "$EX"
step "dockwright status $EX";    $DW status "$EX"
step "dockwright ps -p two-tier"; $DW ps -p two-tier
sleep 3
step "dockwright logs client --tail 5"; $DW logs client --tail 5
if [ "${KEEP:-0}" = 1 ]; then
  printf '\nThe example keeps running. Remove it with: %s down %s   (add --volumes to drop its data)\n' "$DW" "$EX"
else
  # Leave the host as it was (the data volume stays): the test suite and other
  # projects may want the example's names and ports. KEEP=1 keeps it running.
  step "dockwright down $EX   # the named volume db-data is kept";  $DW down "$EX"
  printf '\nDone. Bring it back with: %s apply %s   (KEEP=1 bash scripts/demo.sh keeps it running)\n' "$DW" "$EX"
fi
