"""Where a demo checkout came from: the UTM passthrough its `order.success` webhook carries.

A seller who installs the landing-page script (integrations/thrivecart-utm.js) sends the
visitor's `utm_*` and click ids to ThriveCart as `passthrough[KEY]`, and ThriveCart returns them
in the order's webhook. The demo gives each checkout a traffic source drawn from a hash of its
order id, not from the simulation's random stream, so adding traffic leaves every other output
of a seed unchanged, and the webhook writer and truth.json derive the same answer on their own.
"""

from __future__ import annotations

import zlib

# (share in 1/100, utm_source, utm_medium, campaigns, click id key) of tracked checkouts; the
# remaining share arrives with no passthrough at all ("(none)" in the marts).
_SOURCES = (
    (22, "facebook", "cpc", ("spring launch", "retargeting"), "fbclid"),
    (18, "google", "cpc", ("brand", "course-search"), "gclid"),
    (10, "youtube", "video", ("tutorial-series",), ""),
    (12, "newsletter", "email", ("weekly", "black-friday"), ""),
    (6, "instagram", "social", ("bio-link",), ""),
)


def passthrough_for(order_id: str) -> dict[str, str]:
    """The passthrough fields of the checkout `order_id` ({} when it came untracked)."""
    draw = zlib.crc32(order_id.encode()) % 10_000
    roll, detail = draw % 100, draw // 100
    for share, source, medium, campaigns, click_key in _SOURCES:
        if roll < share:
            return _fields(source, medium, campaigns[detail % len(campaigns)], click_key, detail)
        roll -= share
    return {}


def _fields(source: str, medium: str, campaign: str, click_key: str, detail: int) -> dict[str, str]:
    fields = {"utm_source": source, "utm_medium": medium, "utm_campaign": campaign}
    if detail % 3 == 0:
        fields["utm_content"] = f"ad-{detail % 7}"
    if click_key:
        fields[click_key] = f"{click_key[:2]}.{detail:02d}x{source}"
    return fields
