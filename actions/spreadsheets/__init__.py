"""The spreadsheet pipeline every import uses — one importer, not one per kind of record.

read (``reader``: safe file checks, python-calamine, CSV) → find the header (``header``) → clean each cell
(``clean``) → validate, resolve references in bulk and compare with the database (``pipeline`` with the kind's
importer; ``records`` for master records upserted by natural key) → preview → apply all-or-nothing under an
import batch. ``writer`` makes templates and error reports, and ``bulk`` holds the set-based writes; an
import runs as a 后台任务 (``actions.jobs``), reporting its progress.
"""
