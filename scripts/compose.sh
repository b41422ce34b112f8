#!/usr/bin/env bash
# compose.sh — run Docker Compose, whichever is here: the Compose v2 plugin
# (`docker compose`) or Debian's docker-compose 1.29, installing the latter
# when neither is. Arguments go to compose unchanged.
set -euo pipefail
if docker compose version >/dev/null 2>&1; then
	exec docker compose "$@"
fi
"$(dirname "$0")/ensure-deb.sh" docker-compose docker-compose
exec docker-compose "$@"
