"""The words of the spec error hints: an example per key, synonyms, unsupported keys.

Role: data only. :data:`EXAMPLES` gives one example line per spec key (and
:data:`MODEL_EXAMPLES` per key of one model, where one key name means another thing
there), shown as the fix of a wrong or missing value; :data:`SYNONYMS` maps keys
people bring from docker-compose, or typos of them, to ours ("did you mean");
:data:`UNSUPPORTED` names the docker-compose keys with no counterpart, so that the
message says so instead of suggesting a near key. Neighbours:
``specs.errors_format`` (the only reader), ``specs.models`` (the keys named here).
"""

from __future__ import annotations

EXAMPLES: dict[str, str] = {
    "image": 'image = "busybox:latest"',
    "command": 'command = ["httpd", "-f", "-p", "80"]',
    "entrypoint": 'entrypoint = ["/bin/sh", "-c"]',
    "env": 'env = { LOG_LEVEL = "debug", PASSWORD = { file = "secrets/pw" } }',
    "env_file": 'env_file = ["app.env"]',
    "ports": 'ports = ["8080:80", { host = 8443, container = 443, ip = "127.0.0.1" }]',
    "volumes": 'volumes = ["data:/var/lib/data", "./site:/www:ro"]',
    "volumes_from": 'volumes_from = ["data:ro"]',
    "links": 'links = ["db:database"]',
    "networks": 'networks = ["backend"]',
    "restart": 'restart = "on-failure:3"',
    "healthcheck": 'healthcheck = { test = ["CMD", "true"], interval = "5s" }',
    "test": 'test = ["CMD", "true"]',
    "depends_on": 'depends_on = { db = "healthy" }',
    "resources": 'resources = { memory = "256m", cpus = 0.5, pids = 100 }',
    "replicas": "replicas = 2",
    "state": 'state = "running"',
    "labels": 'labels = { team = "web" }',
    "stdin_open": "stdin_open = true",
    "tty": "tty = true",
    "workdir": 'workdir = "/app"',
    "user": 'user = "1000:1000"',
    "hostname": 'hostname = "web"',
    "stop_signal": 'stop_signal = "SIGTERM"',
    "stop_timeout": 'stop_timeout = "10s"',
    "interval": 'interval = "5s"',
    "timeout": 'timeout = "3s"',
    "start_period": 'start_period = "30s"',
    "retries": "retries = 3",
    "memory": 'memory = "256m"',
    "cpus": "cpus = 0.5",
    "pids": "pids = 100",
    "host": "host = 8080",
    "container": "container = 80",
    "ip": 'ip = "127.0.0.1"',
    "protocol": 'protocol = "udp"',
    "source": 'source = "./data"',
    "target": 'target = "/data"',
    "read_only": "read_only = true",
    "type": 'type = "bind"',
    "size": 'size = "64m"',
    "alias": 'alias = "database"',
    "aliases": 'aliases = ["db"]',
    "driver": 'driver = "local"',
    "driver_opts": 'driver_opts = { type = "tmpfs" }',
    "external": "external = true",
    "internal": "internal = true",
    "subnet": 'subnet = "172.28.0.0/16"',
    "name": 'name = "shop"',
    "file": 'file = "secrets/pw"',
    "ref": 'ref = "busybox:latest"',
    "build": 'build = "./app"',
    "archive": 'archive = "images/app.tar"',
    "dockerfile": 'dockerfile = "Dockerfile.prod"',
    "args": 'args = { VERSION = "1.2" }',
    "pull": 'pull = "never"',
    "max_retries": "max_retries = 3",
    "defaults": 'defaults = { restart = "always" }',
    "secrets": 'secrets = { db_password = { file = "./db_password" } }',
    "configs": 'configs = { "/etc/app.conf" = { file = "./app.conf" } }',
    "mode": 'mode = "0440"',
    "uid": "uid = 1000",
    "gid": "gid = 1000",
}

# Where one key name means different things in different tables.
MODEL_EXAMPLES: dict[tuple[str, str], str] = {
    ("Link", "target"): 'target = "db"',
    ("VolumesFrom", "container"): 'container = "data"',
    ("EnvFromHost", "env"): 'env = "HOST_VARIABLE"',
    ("Network", "driver"): 'driver = "bridge"',
    ("RestartPolicy", "name"): 'name = "on-failure"',
}

# Keys people bring from docker-compose or typos of them -> our key.
SYNONYMS: dict[str, str] = {
    "environment": "env", "working_dir": "workdir", "port": "ports", "volume": "volumes",
    "link": "links", "network": "networks", "cmd": "command", "health_check": "healthcheck",
    "depends": "depends_on", "dependencies": "depends_on", "label": "labels",
    "restart_policy": "restart", "scale": "replicas", "env_files": "env_file",
    "container_name": "hostname", "interactive": "stdin_open", "read-only": "read_only",
    "readonly": "read_only", "ro": "read_only", "mem_limit": "memory", "memory_limit": "memory",
    "pids_limit": "pids", "cpu": "cpus", "args_": "args", "context": "build",
    "stop_grace_period": "stop_timeout",
}

# docker-compose keys with no counterpart here (yet): named as such, never "did you mean".
UNSUPPORTED: frozenset[str] = frozenset({
    "deploy", "profiles",
    "platform", "userns_mode", "cgroup_parent", "cgroup",
    "runtime", "mem_reservation", "memswap_limit", "mem_swappiness",
    "cpu_quota", "cpu_period", "oom_kill_disable",
    "external_links", "isolation", "storage_opt", "device_cgroup_rules", "gpus",
    "blkio_config", "credential_spec", "annotations", "attach", "pull_policy", "post_start",
    "pre_stop", "develop", "extends", "use_api_socket",
})
