"""The committed hypernym table is what the script derives from WordNet 3.0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_DIR

WORDNET = Path("/usr/share/wordnet")


def test_script_reproduces_the_committed_table_and_licence(tmp_path: Path):
    if not (WORDNET / "data.noun").is_file():
        pytest.skip("WordNet 3.0 is not installed (Debian: apt-get install wordnet-base)")
    out, licence = tmp_path / "hypernyms.json", tmp_path / "LICENSE.txt"
    subprocess.run([sys.executable, "scripts/derive_wordnet_hypernyms.py", "--wordnet",
                    str(WORDNET), "--out", str(out), "--licence-out", str(licence)],
                   cwd=REPO_DIR, check=True, capture_output=True)
    resources = REPO_DIR / "resources"
    assert out.read_bytes() == (resources / "wordnet_hypernyms.json").read_bytes()
    assert licence.read_bytes() == (resources / "WordNet-LICENSE.txt").read_bytes()
