# Sourced by ./jengu and scripts/test: creates .venv from uv.lock on first use (and after lock changes).
# Needs only python3 (3.11+) with venv; uv itself is installed into a private tool venv, pinned.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV_VERSION="0.13.9"
TOOLS="$ROOT/.cache/uv-tool"

python3 - <<'PY' || { echo "jengu needs Python 3.11 or newer as python3" >&2; exit 2; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x "$TOOLS/bin/uv" ] || [ "$("$TOOLS/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  echo "setting up uv $UV_VERSION in $TOOLS ..." >&2
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

stamp="$ROOT/.venv/.jengu-lock-sha"
want="$(sha256sum "$ROOT/uv.lock" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$ROOT/.venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing dependencies from uv.lock into .venv ..." >&2
  UV_PYTHON_DOWNLOADS=never "$TOOLS/bin/uv" sync --project "$ROOT" --frozen --python python3 --quiet
  echo "$want" > "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
