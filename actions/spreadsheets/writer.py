"""Workbooks the import gives back: the template of a kind, and the error report of a file.

Both are written through :mod:`actions.xlsx_out` (write-only, and text that starts with ``= + - @`` stays
text: an error report repeats what users typed, formulas included).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from .. import xlsx_out
from .header import find_header
from .pipeline import Importer, Problem
from .reader import LIMITS, Limits, read_book

TEMPLATE_ROWS = 1000
CHOICES_SHEET = "选项"
REASON = "错误原因"
ROW_NUMBER = "原行号"


def template(importer: Importer) -> bytes:
    """The kind's columns (the models' labels), an example row, drop-downs for choices, and the instructions."""
    fields = importer.fields()
    wb = xlsx_out.new_workbook()
    xlsx_out.write_sheet(
        wb, importer.title, [f.label for f in fields], [[f.example for f in fields]],
        widths=[max(10, len(f.label) * 2 + 4) for f in fields], caption="",  # filled in and read back: no title
    )
    data = wb.worksheets[-1]
    lists = [(i, f) for i, f in enumerate(fields) if f.choices]
    # A list longer than Excel's 255-character inline limit lives on a hidden sheet.
    long_lists = [(i, f) for i, f in lists if len(",".join(f.choices)) > 250]
    for i, f in lists:
        column = get_column_letter(i + 1)
        if (i, f) in long_lists:
            n = long_lists.index((i, f)) + 1
            source = f"'{CHOICES_SHEET}'!${get_column_letter(n)}$2:${get_column_letter(n)}${len(f.choices) + 1}"
        else:
            source = '"' + ",".join(f.choices) + '"'
        check = DataValidation(type="list", formula1=source, allow_blank=True, showErrorMessage=True,
                               errorTitle="请从列表中选择", error=f"{f.label}：{'、'.join(f.choices)[:200]}")
        check.add(f"{column}2:{column}{TEMPLATE_ROWS + 1}")
        data.data_validations.append(check)
    notes = [
        (f.label, "是" if f.required else "否", f.note, "、".join(f.choices)) for f in fields
    ]
    xlsx_out.write_sheet(
        wb, "填写说明", ("列名", "必填", "说明", "可选值"),
        [*notes, ("", "", "", ""), *(("说明", "", n, "") for n in importer.notes),
         ("说明", "", "第 2 行是示例，导入前请删除或改为实际数据；可以保留标题行、合计行和空行。", "")],
        widths=(16, 6, 60, 40), caption="",
    )
    if long_lists:
        columns = [f.choices for _, f in long_lists]
        xlsx_out.write_sheet(
            wb, CHOICES_SHEET, [f.label for _, f in long_lists],
            [[c[r] if r < len(c) else None for c in columns] for r in range(max(map(len, columns)))], caption="",
        )
        wb.worksheets[-1].sheet_state = "hidden"
    return xlsx_out.to_bytes(wb)


def error_report(
    importer: Importer, data: bytes, file_name: str, problems: Sequence[Problem], *, limits: Limits = LIMITS
) -> bytes:
    """The rows that have problems, as they were in the file, with the row number and a reason column."""
    book = read_book(data, file_name, allow_csv=importer.allow_csv, limits=limits)
    reasons: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for p in problems:
        reasons[p.sheet][p.row].append(p.reason if not p.column else f"{p.column} {p.reason}")
    wb = xlsx_out.new_workbook()
    taken: set[str] = set()
    fields = importer.fields()
    for sheet in book.sheets:
        by_row = reasons.get(sheet.name)
        if not by_row:
            continue
        header = find_header(sheet.rows, fields)
        width = max(len(sheet.rows[n - 1]) for n in by_row)
        titles = [header.titles.get(j, "") if header else "" for j in range(width)]
        xlsx_out.write_sheet(
            wb, xlsx_out.sheet_title(f"{sheet.name}-错误", taken), [ROW_NUMBER, *titles, REASON],
            ([n, *sheet.rows[n - 1][:width], *([""] * (width - len(sheet.rows[n - 1]))), "；".join(r)]
             for n, r in sorted(by_row.items())), caption="",  # corrected and imported again, as the file was
        )
    if not taken:
        xlsx_out.write_sheet(wb, "错误报告", (REASON,), [("没有错误",)], caption="")
    return xlsx_out.to_bytes(wb)
