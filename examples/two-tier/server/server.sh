#!/bin/sh
# A tiny password-protected key/value "database" on TCP 3306: busybox nc
# accepts connections and runs handler.sh for each one; records are files in
# /var/lib/db (the named volume), so they survive a re-created container.
: "${DB_ROOT_PASSWORD:?DB_ROOT_PASSWORD must be set}"
mkdir -p /var/lib/db
nc -ll -p 3306 -e /bin/sh /app/handler.sh &
server=$!
trap 'kill "$server"; exit 0' TERM INT
echo "db: listening on 3306, data in /var/lib/db"
wait "$server"
