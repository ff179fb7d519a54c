"""Write the repository's example service files from meshd/service.py (what `meshctl service install`
renders, with example paths): systemd/meshd.service and launchd/dev.meshd.meshd.plist.

    python tools/gen_service_files.py          # tests/test_service.py fails when they are stale
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from meshd.service import PLIST_NAME, UNIT_NAME, launchd_plist, reference_plist_spec, reference_spec, systemd_unit  # noqa: E402

FILES = {
    ROOT / "systemd" / UNIT_NAME: lambda: systemd_unit(reference_spec()).encode("utf-8"),
    ROOT / "launchd" / PLIST_NAME: lambda: launchd_plist(reference_plist_spec()),
}

if __name__ == "__main__":
    for path, make in FILES.items():
        path.write_bytes(make())
        print(f"wrote {path.relative_to(ROOT)}")
