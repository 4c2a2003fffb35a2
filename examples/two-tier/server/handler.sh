#!/bin/sh
# One connection. Protocol (one command per line, one reply per line):
#   AUTH <password>  -> OK | ERR access denied   (must come first)
#   SET <key> <value> -> OK     GET <key> -> VALUE <value> | ERR no such key
#   KEYS -> KEYS <key> ...      QUIT -> BYE
DATA=/var/lib/db
read -r cmd password || exit 0
password=$(printf '%s' "$password" | tr -d '\r')
if [ "$cmd" != "AUTH" ] || [ "$password" != "$DB_ROOT_PASSWORD" ]; then
    echo "ERR access denied"
    exit 0
fi
echo "OK"
while read -r cmd key value; do
    value=$(printf '%s' "$value" | tr -d '\r')
    case "$key" in
        *[!A-Za-z0-9_-]*) echo "ERR keys are letters, digits, _ and -"; continue ;;
    esac
    case "$cmd" in
        SET) printf '%s\n' "$value" > "$DATA/$key" && echo "OK" ;;
        GET) if [ -n "$key" ] && [ -f "$DATA/$key" ]; then
                 echo "VALUE $(cat "$DATA/$key")"
             else
                 echo "ERR no such key"
             fi ;;
        KEYS) echo "KEYS" $(ls "$DATA") ;;
        QUIT) echo "BYE"; exit 0 ;;
        *) echo "ERR unknown command" ;;
    esac
done
