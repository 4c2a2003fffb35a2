#!/bin/sh
# Healthcheck: the server answers a correct AUTH with OK.
printf 'AUTH %s\nQUIT\n' "$DB_ROOT_PASSWORD" | nc 127.0.0.1 3306 | grep -q '^OK'
