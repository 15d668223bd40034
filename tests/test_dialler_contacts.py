from pathlib import Path

import pytest

from engine.dialler.contacts import ContactImportError, import_contacts, normalise_number

CSV = """phone,timezone,name,plan
020 7946 0018,,Ann,gold
+44 20 7946 0018,,,silver
not a number,,Bob,
+1 212 555 0100,,Cy,
+1 212 555 0100,Europe/Paris,Dup,
020 7946 0999,Mars/Olympus,Eve,
,,Nobody,
"""


def test_import_normalises_rejects_merges_and_zones() -> None:
    report = import_contacts(CSV.splitlines(), "GB")
    numbers = [c.number for c in report.contacts]
    assert numbers == ["+442079460018", "+12125550100"]
    ann = report.contacts[0]
    assert ann.data == {"name": "Ann", "plan": "gold"}  # first row wins, empty fields filled
    assert ann.time_zones == ("Europe/London",)
    assert report.contacts[1].time_zones == ("America/New_York",)
    rejected = {(r.line, r.field) for r in report.rejected}
    assert rejected == {(4, "phone"), (7, "timezone"), (8, "phone")}
    assert [(m.line, m.reason) for m in report.merged] == [
        (3, "duplicate of line 2, merged"),
        (6, "duplicate of line 5, merged"),
    ]
    assert "2 imported, 3 rejected, 2 duplicates merged" in report.summary()


def test_duplicate_fills_missing_fields() -> None:
    report = import_contacts(["phone,name,plan", "02079460018,,", "+442079460018,Ann,gold"], "GB")
    assert report.contacts[0].data == {"name": "Ann", "plan": "gold"}


def test_time_zone_column_wins_and_default_applies(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("phone,timezone\n+442079460018,Europe/Paris\n", encoding="utf-8")
    assert import_contacts(path, "GB").contacts[0].time_zones == ("Europe/Paris",)


def test_missing_number_column_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("name\nAnn\n", encoding="utf-8")
    with pytest.raises(ContactImportError, match=r"bad.csv: line 1: field 'phone': missing column"):
        import_contacts(path, "GB")


def test_too_many_fields_rejected() -> None:
    report = import_contacts(["phone,name", "+442079460018,Ann,extra"], "GB")
    assert report.rejected[0].line == 2 and "more fields" in report.rejected[0].reason


def test_normalise_number_errors() -> None:
    assert normalise_number("(212) 555-0100", "US") == "+12125550100"
    with pytest.raises(ValueError, match="invalid number"):
        normalise_number("123", "GB")


# ---- a broken file refuses the whole import and names the line where the bad row starts (issue 12) -----


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b'phone,name\n+442079460018,Ann\n+442079460019,"Bob\n+442079460020,Cy\n+442079460021,Di\n',
            "line 3: a quoted field is not closed (it runs to line 5): unexpected end of data",
        ),
        (b'phone,name\n+442079460018,"Ann" and more\n', "line 2: ',' expected after '\"'"),
        (
            b"phone,notes\n+442079460018,ok\n+442079460019," + b"x" * (128 * 1024 + 1) + b"\n",
            "line 3: a field is longer than 65536 characters",
        ),
        (b"phone,name\n+442079460018,Ann\n+442079460019,Andr\xe9\n", "line 3: not UTF-8 text"),
    ],
    ids=["unclosed-quote", "text-after-quote", "field-over-128KiB", "latin-1"],
)
def test_a_broken_csv_file_is_refused_naming_file_and_line(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(data)
    with pytest.raises(ContactImportError) as exc:
        import_contacts(path, "GB")
    assert str(exc.value).startswith(f"{path}: {expected}")


def test_the_field_limit_is_restored_for_the_rest_of_the_process(tmp_path: Path) -> None:
    import csv

    before = csv.field_size_limit()
    path = tmp_path / "contacts.csv"
    path.write_text("phone,notes\n+442079460018,fine\n")
    assert len(import_contacts(path, "GB").contacts) == 1
    assert csv.field_size_limit() == before


def test_quoted_fields_across_lines_keep_their_starting_line() -> None:
    report = import_contacts(["phone,name", '+442079460018,"Ann', 'Smith"', "not a number,Bob"], "GB")
    assert report.contacts[0].data == {"name": "Ann\nSmith"} and report.contacts[0].line == 2
    assert [(r.line, r.field) for r in report.rejected] == [(4, "phone")]
