"""The ops page reads a file as a person would fix it, never with a command-line option: the
sheet picker, the encoding offer, the "Reading options" disclosure, the mapping step as the
fix for unknown columns, files that are no spreadsheet named by their bytes, rows named by
their sheet row or line, and a mapping step that cannot go quietly wrong (issue 16, parts 1
and 2)."""

from __future__ import annotations

import html
import io
import json
import re
from typing import Any

import pytest
import xlsxwriter
from conftest import WebServer
from test_reader_magic import zipped
from web_support import csv_bytes, post_form, run_folder, run_json, upload, wait_for_status

#: A command-line option as a message would name it: "--sheet", "--ignore-column".
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")

LATIN1 = "operation,customer_id,firstname\nset,7,José\nset,8,Zoë\n".encode("latin-1")


def workbook(sheets: dict[str, list[list[str]]]) -> bytes:
    """An .xlsx of ``sheets`` (name -> rows of text cells), in that order."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write_string(r, c, value)
    book.close()
    return buffer.getvalue()


TWO_SHEETS = workbook(
    {
        "Notes": [["Read me"], ["The changes are on the next sheet"]],
        "Unlocks": [["operation", "customer_id"], ["unlock", "7"], ["unlock", "8"]],
    }
)


async def _page_and_json(web: WebServer, path: str) -> tuple[str, dict[str, Any]]:
    page = await (await web.client.get(path)).text()
    return page, await run_json(web.client, path)


def _words(page: str) -> str:
    """What a person reads on ``page``: its text without tags, styles or scripts."""
    page = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# -- 1. plain words: the control, never the flag ----------------------------------------------

FAILURES = [
    pytest.param(
        csv_bytes("operation,customer_id,E-mail address,Notes", "set,7,a@example.com,x"),
        "ops.csv",
        "2 columns need a decision",
        id="unknown-columns",
    ),
    pytest.param(LATIN1, "latin.csv", "not valid UTF-8", id="latin-1-text"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(40), "photo.csv", "PNG image", id="png-as-csv"),
    pytest.param(
        csv_bytes("operation;customer_id|email", "lock;1|x"),
        "tied.csv",
        "cannot tell the delimiter",
        id="delimiter-tie",
    ),
    pytest.param(csv_bytes("customer_id,email", "7,a@example.com"), "noop.csv", "no 'operation'",
                 id="no-operation-column"),
    pytest.param(csv_bytes("operation,customer_id", ",7"), "blank-op.csv", "no operation",
                 id="row-without-operation"),
    pytest.param(
        workbook({"Empty": [], "Also empty": []}), "empty.xlsx", "is empty", id="empty-sheet"
    ),
    pytest.param(
        zipped({"word/document.xml": b"<w:document/>"}), "letter.xlsx", "Word document",
        id="word-as-xlsx",
    ),
]


@pytest.mark.parametrize(("content", "name", "shown"), FAILURES)
async def test_no_page_or_json_twin_names_a_command_line_option(
    web: WebServer, content: bytes, name: str, shown: str
) -> None:
    _, path, _ = await upload(web.client, content, name)
    page, data = await _page_and_json(web, path)
    assert shown in _words(page) and shown in json.dumps(data, ensure_ascii=False)
    assert OPTION.findall(_words(page)) == []
    assert OPTION.findall(json.dumps(data, ensure_ascii=False)) == []



async def test_the_page_names_what_a_file_is_when_it_is_no_spreadsheet(web: WebServer) -> None:
    _, path, page = await upload(web.client, b"\x89PNG\r\n\x1a\n" + bytes(40), "photo.csv")
    assert (await run_json(web.client, path))["run"]["message"] == (
        "This is a PNG image, not a spreadsheet."
    )
    assert (
        '<p class="error" role="alert" id="problem">This is a PNG image, not a spreadsheet.</p>'
    ) in page
    assert "Check again" not in page  # no reading option makes an image a spreadsheet
    assert '<a href="/">Upload a corrected file</a>' in page


# -- the sheet picker ------------------------------------------------------------------------


async def test_a_workbook_of_several_sheets_gets_a_picker_and_the_plan_names_its_sheet(
    web: WebServer,
) -> None:
    _, path, page = await upload(web.client, TWO_SHEETS, "ops.xlsx")
    run = (await run_json(web.client, path))["run"]
    assert run["status"] == "columns"  # the first sheet is a note, not the changes
    assert run["sheets"] == ["Notes", "Unlocks"]
    assert (
        '<select id="read-sheet" name="sheet" aria-describedby="read-sheet-hint">\n'
        '    <option value="Notes" selected>Notes</option>\n'
        '    <option value="Unlocks">Unlocks</option>\n'
    ) in page

    status, page = await post_form(
        web.client, path + "/read", {"sheet": "Unlocks"}, token_from=path
    )
    assert status == 200
    run = (await run_json(web.client, path))["run"]
    assert run["status"] == "planned" and run["plan"]["by_operation"] == {"unlock": 2}
    assert '<li>Sheet: Unlocks (2 of 2)</li>' in page
    assert '<option value="Unlocks" selected>Unlocks</option>' in page


async def test_a_sheet_not_in_the_workbook_is_refused_by_the_picker(web: WebServer) -> None:
    _, path, _ = await upload(web.client, TWO_SHEETS, "ops.xlsx")
    status, page = await post_form(web.client, path + "/read", {"sheet": "Nope"}, token_from=path)
    assert status == 400
    assert "Choose a sheet from the list." in page


async def test_a_sheet_named_at_upload_that_is_not_there_offers_the_picker(
    web: WebServer,
) -> None:
    _, path, page = await upload(web.client, TWO_SHEETS, "ops.xlsx", sheet="Locks")
    assert (await run_json(web.client, path))["run"]["message"] == (
        "ops.xlsx: no sheet 'Locks'; the sheets are 'Notes', 'Unlocks' — choose another sheet "
        "below and check again"
    )
    assert '<option value="Notes" selected>Notes</option>' in page


async def test_a_workbook_of_one_sheet_says_it_and_has_no_picker(web: WebServer) -> None:
    content = workbook({"Changes": [["operation", "customer_id"], ["lock", "1"]]})
    _, path, page = await upload(web.client, content, "one.xlsx")
    assert (await run_json(web.client, path))["run"]["status"] == "planned"
    assert "<li>Sheet: Changes (1 of 1)</li>" in page
    assert 'id="read-sheet"' not in page


# -- the encoding offer ----------------------------------------------------------------------


async def test_latin_1_text_gets_windows_1252_preselected_then_reads_as_written(
    web: WebServer,
) -> None:
    _, path, page = await upload(web.client, LATIN1, "latin.csv")
    run = (await run_json(web.client, path))["run"]
    assert run["status"] == "rejected"
    assert run["message"] == (
        "latin.csv: not valid UTF-8 (byte 0xe9 at offset 41, line 2) — choose the file's "
        "encoding below and check again"
    )
    assert '<option value="cp1252" selected>Western European (Windows-1252)</option>' in page

    status, page = await post_form(
        web.client, path + "/read", {"encoding": "cp1252"}, token_from=path
    )
    assert status == 200
    run = (await run_json(web.client, path))["run"]
    assert run["status"] == "planned"
    assert [s.rsplit("  ", 1)[1] for s in run["samples"]] == [
        "customer_id=7&firstname=José",
        "customer_id=8&firstname=Zoë",
    ]
    assert "<li>Encoding: Western European (Windows-1252)</li>" in page


async def test_bytes_windows_1252_cannot_decode_get_no_encoding_preselected(
    web: WebServer,
) -> None:
    # 0x81 means nothing in Windows-1252: offering it as the answer would be a guess.
    content = b"operation,customer_id,city\nset,7,\x81\xe9\n"
    _, path, page = await upload(web.client, content, "odd.csv")
    assert (await run_json(web.client, path))["run"]["remedy"] == {
        "kind": "encoding",
        "suggested": None,
    }
    assert "<option value=\"\" selected>Choose the file's encoding</option>" in page
    assert '<option value="cp1252">Western European (Windows-1252)</option>' in page


async def test_utf_8_text_is_said_to_be_utf_8_and_offers_no_encoding(web: WebServer) -> None:
    _, _, page = await upload(web.client, csv_bytes("operation,customer_id", "lock,1"), "a.csv")
    assert "<li>Encoding: Unicode (UTF-8)</li>" in page
    assert 'id="read-encoding"' not in page


# -- reading options -------------------------------------------------------------------------


async def test_header_row_and_delimiter_sit_behind_reading_options(web: WebServer) -> None:
    page = await (await web.client.get("/")).text()
    assert re.search(
        r'<details class="reading">\s*<summary>Reading options</summary>.*?'
        r'<label for="header_row">Header row</label>.*?'
        r'<label for="delimiter">Delimiter</label>.*?</details>',
        page,
        re.S,
    )


async def test_a_delimiter_the_file_leaves_open_is_chosen_under_reading_options(
    web: WebServer,
) -> None:
    content = csv_bytes("operation;customer_id|note", "lock;1|a")
    _, path, page = await upload(web.client, content, "tied.csv")
    run = (await run_json(web.client, path))["run"]
    assert run["message"] == (
        "tied.csv: cannot tell the delimiter: line 1 has 1 each of ';' and '|' outside quotes "
        "— choose the delimiter under Reading options and check again"
    )
    assert '<details class="reading" open>' in page  # its control is in there: shown open

    status, page = await post_form(
        web.client, path + "/read", {"delimiter": "semicolon"}, token_from=path
    )
    assert status == 200
    run = (await run_json(web.client, path))["run"]
    assert run["status"] == "columns" and run["options"]["delimiter"] == ";"
    assert [c["header"] for c in run["unknown_columns"]] == ["customer_id|note"]
    assert '<option value="semicolon" selected>Semicolon (;)</option>' in page


async def test_a_header_below_a_title_is_read_from_the_row_given(web: WebServer) -> None:
    content = csv_bytes(
        "Weekly changes", "", "operation,customer_id,email", "lock,1,", "set,2,not-an-email"
    )
    _, path, page = await upload(web.client, content, "titled.csv")
    run = (await run_json(web.client, path))["run"]
    assert run["status"] == "planned"  # found by itself
    assert "<li>Header: line 3</li>" in page
    assert '<tr><td>2</td><td class="place">line 5</td>' in page

    status, page = await post_form(
        web.client, path + "/read", {"header_row": "9"}, token_from=path
    )
    assert status == 200  # checked again: what it found is the run's, not the form's
    run = (await run_json(web.client, path))["run"]
    assert run["status"] == "rejected" and run["message"] == (
        "titled.csv: the header is said to be on line 9, but the file has only 5 lines — give "
        "the line or sheet row the column names are on under Reading options"
    )
    assert '<details class="reading" open>' in page
    assert (
        'name="header_row" type="number" min="1" step="1"\n'
        '             inputmode="numeric" value="9"'
    ) in page

    await post_form(web.client, path + "/read", {"header_row": "3"}, token_from=path)
    run = (await run_json(web.client, path))["run"]
    assert run["status"] == "planned" and run["options"]["header_row"] == 3


async def test_a_header_row_that_is_no_number_is_refused_in_words(web: WebServer) -> None:
    _, path, _ = await upload(web.client, csv_bytes("operation,customer_id", "lock,1"), "a.csv")
    status, page = await post_form(
        web.client, path + "/read", {"header_row": "three"}, token_from=path
    )
    assert status == 400
    assert (
        "Header row: give the number of the line or sheet row the column names are on, such "
        "as 3, or leave it empty."
    ) in page


# -- unknown columns: the mapping step is the fix --------------------------------------------


async def test_unknown_columns_are_a_decision_not_an_error(web: WebServer) -> None:
    content = csv_bytes("operation,customer_id,E-mail address,Notes", "set,7,a@example.com,x")
    _, _, page = await upload(web.client, content, "ops.csv")
    assert '<p class="decision" id="columns-decision">2 columns need a decision</p>' in page
    assert 'role="alert"' not in page


# -- rows named as the file has them ---------------------------------------------------------


async def test_invalid_rows_name_their_sheet_row(web: WebServer) -> None:
    content = workbook(
        {
            "Changes": [
                ["Customer changes, week 12"],
                [],
                ["operation", "customer_id", "email"],
                ["set", "1", "one@example.com"],
                ["set", "2", "not-an-email"],
            ]
        }
    )
    _, _, page = await upload(web.client, content, "ops.xlsx")
    assert (
        '<tr><td>2</td><td class="place">sheet row 5</td>'
        "<td>email &#39;not-an-email&#39; is not an email address</td></tr>"
    ) in page
    assert "<li>Header: sheet row 3</li>" in page


async def test_a_line_counts_the_line_breaks_inside_quoted_values(web: WebServer) -> None:
    content = csv_bytes(
        "operation,customer_id,address1,email",
        'set,1,"Main Street 1',
        'Building B",one@example.com',
        "set,2,,not-an-email",
    )
    _, path, page = await upload(web.client, content, "multi.csv")
    assert '<tr><td>2</td><td class="place">line 4</td>' in page
    await post_form(web.client, path + "/send", token_from=path)
    data = await wait_for_status(web.client, path)
    assert [g["places"] for g in data["run"]["errors"]] == [["line 4"]]
    assert (run_folder(web.data_dir, path) / "places.parquet").exists()


# -- mapping that cannot go quietly wrong ----------------------------------------------------


async def test_sign_in_fields_are_never_preselected(web: WebServer) -> None:
    content = csv_bytes(
        "operation,Kundennummer,Vorname,Passwort,Usernme,E-mail address",
        "set,7,Jo,Secret123!,jo7,jo@example.com",
    )
    _, path, page = await upload(web.client, content, "de.csv")
    run = (await run_json(web.client, path))["run"]
    assert [(c["header"], c["suggestion"], c["choice"]) for c in run["unknown_columns"]] == [
        ("Passwort", "password", ""),
        ("Usernme", "username", ""),
        ("E-mail address", "email", "email"),
    ]
    assert run["named_columns"] == {
        "operation": "operation",
        "Kundennummer": "customer_id",
        "Vorname": "firstname",
    }
    assert "<tr><td>Vorname</td><td>firstname</td></tr>" in page
    assert (
        '<p class="hint" id="column-0-hint">Closest API name: password (it changes how the '
        "customer signs in: choose it only if this column holds exactly that)</p>"
    ) in page


async def test_a_sign_in_choice_made_for_other_columns_is_not_preselected_again(
    web: WebServer,
) -> None:
    first = csv_bytes("operation,customer_id,Login,Notes", "set,7,jo7,x")
    _, path, _ = await upload(web.client, first, "one.csv")
    await post_form(
        web.client, path + "/columns", {"column-0": "username", "column-1": "custom1"},
        token_from=path,
    )
    assert (await run_json(web.client, path))["run"]["status"] == "planned"
    # The same headers among other columns: the remembered custom1 comes back, username not.
    other = csv_bytes("operation,customer_id,Login,Notes,Team", "set,8,jo8,y,z")
    _, again, _ = await upload(web.client, other, "two.csv")
    offered = (await run_json(web.client, again))["run"]["unknown_columns"]
    assert [(c["header"], c["choice"]) for c in offered] == [
        ("Login", ""),
        ("Notes", "custom1"),
        ("Team", ""),
    ]


async def test_two_columns_mapped_to_one_field_keep_the_other_choices_and_are_marked(
    web: WebServer,
) -> None:
    content = csv_bytes(
        "operation,customer_id,Mail 1,Mail 2,Notes", "set,7,a@example.com,b@example.com,x"
    )
    _, path, _ = await upload(web.client, content, "two-mails.csv")
    choices = {"column-0": "email", "column-1": "email", "column-2": "custom1"}
    status, page = await post_form(web.client, path + "/columns", choices, token_from=path)
    assert status == 400
    assert (
        '<p class="error" role="alert" id="problem">' not in page
    )  # the form says where, not a banner alone
    assert page.count(
        '<p class="error field-error" id="column-0-error">“Mail 1” and “Mail 2” are both '
        "mapped to email: choose another field for one of them.</p>"
    ) == 1
    assert (
        '<p class="error field-error" id="column-1-error">“Mail 1” and “Mail 2” are both '
        "mapped to email: choose another field for one of them.</p>"
    ) in page
    assert 'aria-invalid="true" autofocus>' in page
    assert page.count('aria-invalid="true"') == 2
    assert re.search(r'id="column-2".*?<option value="custom1" selected>', page, re.S)
    assert (await run_json(web.client, path))["run"]["status"] == "columns"  # nothing changed


async def test_a_column_mapped_to_a_field_the_file_already_names_is_marked(
    web: WebServer,
) -> None:
    content = csv_bytes("operation,customer_id,email,Mail 2", "set,7,a@example.com,b@example.com")
    _, path, _ = await upload(web.client, content, "mails.csv")
    status, page = await post_form(
        web.client, path + "/columns", {"column-0": "email"}, token_from=path
    )
    assert status == 400
    assert (
        '<p class="error field-error" id="column-0-error">The column “email” already holds '
        "email: choose another field for this column, or ignore it.</p>"
    ) in page
