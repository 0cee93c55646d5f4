"""A second process that holds a folder's lock until its stdin closes (run with ``-c``)."""

from __future__ import annotations

import textwrap

HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from resnet_desktop.core.foundation.folder_lock import folder_lock
    with folder_lock(Path(sys.argv[1]), "resnet-desktop tag photos --xmp"):
        print("locked", flush=True)
        sys.stdin.read()  # held until the test closes our stdin
""")
