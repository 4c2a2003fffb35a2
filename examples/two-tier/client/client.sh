#!/bin/sh
# Counts visits in the database every two seconds, reaching it as $DB_HOST.
trap 'exit 0' TERM INT
n=0
while :; do
    n=$((n + 1))
    reply=$(printf 'AUTH %s\nSET visits %s\nGET visits\nQUIT\n' "$DB_PASSWORD" "$n" \
            | nc "${DB_HOST:-database}" 3306 | tr '\n' ' ')
    echo "client: $reply"
    sleep 2
done
