#!/bin/sh
# roundtrip.sh BINDIR FIXTURES REFERENCE_SCRIPT -- the PEFT round trip of
# adapters written by collide-export (tests/import/roundtrip.py), run with
# the first python3 that has torch, peft and transformers
# ($COLLIDE_TORCH_PYTHON, then python3 on PATH, then /usr/bin/python3).
# Without one: exit 77, which ctest reports as Skipped.
here=$(dirname "$0")
for py in "${COLLIDE_TORCH_PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$py" ] || continue
    # find_spec locates the packages without importing torch (seconds)
    if "$py" -c 'import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ("torch", "peft", "transformers")))' 2>/dev/null; then
        exec "$py" "$here/roundtrip.py" "$@"
    fi
done
echo "peft_roundtrip: Skipped: needs torch and peft; pip install torch transformers peft"
exit 77
