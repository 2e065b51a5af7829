#!/usr/bin/env bash
# Writes web/src/api/schema.d.ts from the server's OpenAPI document. No server is needed: the app
# builds the document in-process (tertulia.app.create_app().openapi()). With --check it changes
# nothing and fails when the committed file differs from what the server's code says.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
target="$root/web/src/api/schema.d.ts"
if [ ! -x "$here/node_modules/.bin/openapi-typescript" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The environment's TERTULIA_* settings do not change the document; they are left out all the same.
env -u TERTULIA_DATABASE_URL -u TERTULIA_REDIS_URL "$root/.venv/bin/python" -c \
  'import json; from tertulia.app import create_app; print(json.dumps(create_app().openapi(), sort_keys=True))' \
  > "$tmp/openapi.json"
"$here/node_modules/.bin/openapi-typescript" "$tmp/openapi.json" -o "$tmp/schema.d.ts" --alphabetize --default-non-nullable=false >/dev/null
if [ "${1:-}" = "--check" ]; then
  if ! cmp -s "$tmp/schema.d.ts" "$target"; then
    echo "web/src/api/schema.d.ts does not match the server's API: run 'make api-types' and commit it" >&2
    diff -u "$target" "$tmp/schema.d.ts" | head -60 >&2 || true
    exit 1
  fi
  echo "web/src/api/schema.d.ts matches the server's API"
else
  cp "$tmp/schema.d.ts" "$target"
  echo "wrote web/src/api/schema.d.ts"
fi
