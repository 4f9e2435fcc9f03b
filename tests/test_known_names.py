"""Headers European ops sheets write, read as the API's columns (``aliases``), and which API
name an unknown header may be preselected as on the ops page (``names.likely_column``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchtool.errors import UnknownColumnsError
from batchtool.reader import read_input
from batchtool.reader.names import closest, likely_column


def _columns(tmp_path: Path, header: str) -> dict[str, str]:
    """API name -> the header it was read from, for a file with ``header`` and one row."""
    path = tmp_path / "in.csv"
    cells = header.split(",")
    path.write_text(header + "\n" + ",".join(["x"] * len(cells)) + "\n", encoding="utf-8")
    table = read_input(path)
    return {name: written for name, written in table.headers.items()}


#: What each language's header below is read as, in order.
EVERY_KIND = [
    "operation", "customer_id", "firstname", "lastname", "email", "address1", "zip", "city",
    "country",
]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(
            "Operation,Kundennummer,Vorname,Nachname,E-Mail-Adresse,Straße,PLZ,Ort,Land",
            EVERY_KIND,
            id="german",
        ),
        pytest.param(
            "operation,numéro client,Prénom,Nom,Courriel,Rue,Code postal,Ville,Pays",
            EVERY_KIND,
            id="french",
        ),
        pytest.param(
            "operation,Número de cliente,Nombre,Apellidos,Correo electrónico,Dirección,"
            "Código postal,Ciudad,País",
            EVERY_KIND,
            id="spanish",
        ),
        pytest.param(
            "operation,Codice cliente,Nome,Cognome,Indirizzo email,Indirizzo,CAP,Città,Paese",
            EVERY_KIND,
            id="italian",
        ),
        pytest.param(
            "operation,Klantnummer,Voornaam,Achternaam,E-mailadres,Straat,Postcode,Woonplaats,"
            "Land",
            EVERY_KIND,
            id="dutch",
        ),
    ],
)
def test_other_languages_headers_are_read_as_the_api_columns(
    tmp_path: Path, header: str, expected: list[str]
) -> None:
    columns = _columns(tmp_path, header)
    assert list(columns) == expected
    assert list(columns.values()) == header.split(",")  # each keeps its header as written


def test_case_accents_and_sharp_s_do_not_count(tmp_path: Path) -> None:
    columns = _columns(tmp_path, "operation,KUNDENNUMMER,prenom,STRASSE,Code_Postal")
    assert list(columns) == ["operation", "customer_id", "firstname", "address1", "zip"]


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Passwort", id="german-password"),
        pytest.param("Benutzername", id="german-username"),
        pytest.param("mot de passe", id="french-password"),
        pytest.param("contraseña", id="spanish-password"),
    ],
)
def test_words_for_sign_in_fields_are_named_never_read_as_them(
    tmp_path: Path, header: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"operation,customer_id,{header}\nset,7,x\n", encoding="utf-8")
    with pytest.raises(UnknownColumnsError) as refused:
        read_input(path)
    (column,) = refused.value.columns
    assert column.header == header
    assert column.suggestion in ("username", "password")  # a hint for the person
    assert likely_column(header) is None  # never a preselection


@pytest.mark.parametrize(
    ("header", "likely"),
    [
        pytest.param("E-mail address", "email", id="a-known-name-as-a-word"),
        pytest.param("Vorname des Kunden", "firstname", id="an-alias-as-a-word"),
        pytest.param("fristname", "firstname", id="a-clear-misspelling"),
        pytest.param("Usernme", None, id="never-username"),
        pytest.param("Login password", None, id="never-password"),
        pytest.param("Name", None, id="first-or-last-name-is-not-sure"),
        pytest.param("Vorname Nachname", None, id="two-fields-named"),
        pytest.param("Sortierung", None, id="ort-inside-a-word-is-no-city"),
        pytest.param("Notes", None, id="nothing-close"),
    ],
)
def test_only_an_unambiguous_header_is_likely_a_column(header: str, likely: str | None) -> None:
    assert likely_column(header) == likely


def test_a_field_another_column_has_is_not_likely() -> None:
    assert likely_column("E-mail address", taken={"email"}) is None


def test_a_misspelt_username_is_still_named_to_the_person() -> None:
    assert closest("Usernme") == "username"
