"""The README blocks that record measured figures (`make eval` prints them); the regression guards
read them, so the README stays the one place the figures are kept."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def figures_block(name: str) -> str:
    """The text between `<!-- {name}:start -->` and `<!-- {name}:end -->` in the README."""
    text = README.read_text(encoding="utf-8")
    block = re.search(rf"<!-- {name}:start -->(.*?)<!-- {name}:end -->", text, re.S)
    assert block, f"README.md has no {name} block"
    return block.group(1)
