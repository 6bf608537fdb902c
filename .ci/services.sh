#!/usr/bin/env bash
# Starts the local PostgreSQL, Redis and NATS (JetStream) that the tests and the demo use,
# if they are not already running. Idempotent.
set -euo pipefail

wait_port() { # host port name
  for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "services: $3 did not come up on $1:$2" >&2
  return 1
}

up() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

if ! up 127.0.0.1 5432; then
  if ! command -v pg_ctlcluster >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | head -n1)" main start || true
fi
wait_port 127.0.0.1 5432 postgresql

if ! up 127.0.0.1 6379; then
  if ! command -v redis-server >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi
wait_port 127.0.0.1 6379 redis

if ! up 127.0.0.1 4222; then
  if [ ! -x /usr/sbin/nats-server ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  fi
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server
fi
wait_port 127.0.0.1 4222 nats
echo "services: postgresql, redis and nats are up"
