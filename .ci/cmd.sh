#!/usr/bin/env bash
# Setup for cmd/watchedfile's tests: the story's stack (Debian's Django and
# gunicorn for /usr/bin/python3), logrotate, and apache2-utils (rotatelogs,
# for the comparison harness). The tests themselves run under the README's
# `go test -race -count=1 -timeout 30m ./...` with CI=true.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-django gunicorn logrotate gzip apache2-utils passwd >/dev/null
/usr/bin/python3 -c 'import django, gunicorn' # the test uses this python, not whatever is first on PATH
# The unprivileged user the service runs as (the test also makes it if missing).
getent group app >/dev/null || groupadd --system app
id -u app >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin --gid app app
