"""Where a rendered digest leaves room for each reader's own links, filled in per message by the delivery engine.

The renderer writes these markers once per edition; `delivery.digest` splits the body at them and puts each
reader's signed unsubscribe and preferences URLs in their place. Article text may never contain them.
"""

from __future__ import annotations

UNSUBSCRIBE_PLACEHOLDER = "__UNSUBSCRIBE_URL__"
PREFERENCES_PLACEHOLDER = "__PREFERENCES_URL__"
PLACEHOLDERS = (UNSUBSCRIBE_PLACEHOLDER, PREFERENCES_PLACEHOLDER)
