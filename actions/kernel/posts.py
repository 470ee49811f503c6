"""责任到人: who may be named to a duty by the post they hold — one rule for every write path (the console's forms,
the imports, the CLI)."""

from __future__ import annotations

from collections.abc import Sequence

from models import StaffPosition

# 收款人 and 责任收费员: the posts that take money at the counter (收费员, 前台客服), not engineers or guards.
COLLECTING_POSITIONS = (StaffPosition.CASHIER, StaffPosition.FRONT_DESK)
# 责任管家: a 楼宇管家.
BUTLER_POSITIONS = (StaffPosition.BUTLER,)


def post_refusal(name: str, position: StaffPosition, duty: str, positions: Sequence[StaffPosition]) -> str | None:
    """The refusal naming the employee chosen as ``duty`` (收款人, 责任收费员, 责任管家) and the post they hold, where
    it is none of ``positions``; None where it is one of them."""
    if position in positions:
        return None
    return f"{name} 的岗位是{position.label}，{duty}须为{'、'.join(p.label for p in positions)}"
