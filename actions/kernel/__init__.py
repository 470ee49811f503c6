"""The kernel every action imports — and the only place these helpers live:

- ``periods``: today and months in Beijing time (``today_local``, ``period_of``, ``parse_month`` …);
- ``money``: exact amounts in yuan (``money``, ``cents``, ``decimal_text``: a number as typed or pasted);
- ``text``: typed text folded (full-width, invisible characters, dashes) for codes, numbers and dates;
- ``sql``: the few statements that differ between SQLite and PostgreSQL (insert-or-ignore, local dates);
- ``scope``: which projects an actor may act on, resolved and authorised with one wording.

A domain module (billing, scores, work orders …) is never another's utility module.
"""
