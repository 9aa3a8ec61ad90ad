"""supports() helper shared by the variant modules."""
from __future__ import annotations

from ..ir import FirmnetError


def refusal(build) -> str | None:
    """None if the parameter builder accepts the layer (build() returns), else its reason."""
    try:
        build()
    except (ValueError, FirmnetError) as exc:
        return str(exc)
    return None
