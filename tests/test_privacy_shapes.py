"""No published file can be rewritten by another user (review-priv F12)."""

from __future__ import annotations

import os


def test_the_published_outbox_is_never_writable_by_others() -> None:
    """F12: whatever the operator's umask, a published night gets no group or other write
    permission (it holds names and addresses; a rewritten list would be mailed)."""
    from coklit_dq.privacy import shared_modes

    old = os.umask(0o000)
    try:
        assert shared_modes() == (0o755, 0o644)
        os.umask(0o027)
        assert shared_modes() == (0o750, 0o640)  # a stricter umask stays
    finally:
        os.umask(old)
