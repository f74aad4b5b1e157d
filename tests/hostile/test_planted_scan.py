"""The suite-wide secret scan itself: it must see a planted value in an output, in base64 too, and must
not count the inputs that hold it on purpose."""

from __future__ import annotations

import base64
from pathlib import Path

from testing import planted


def test_a_planted_value_in_an_output_file_is_found_plain_and_base64(tmp_path: Path) -> None:
    value = planted.secret("scan-self-test")   # forgotten again below: this leak must not fail the session
    (tmp_path / "report.json").write_text(f'{{"x": "{value}"}}')
    encoded = base64.b64encode(b"pw=" + value.encode()).decode()
    (tmp_path / "b64.yaml").write_text(f"data: {{p: {encoded}}}")
    planted.write_input(tmp_path / "repo" / "secret.yaml", f"stringData: {{p: {value}}}")
    try:
        found = planted.leaks(tmp_path)
    finally:
        planted.PLANTED.discard(value)
    assert [Path(f.split(":")[0]).name for f in found] == ["b64.yaml", "report.json"]
