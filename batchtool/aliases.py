"""The headers European ops sheets write for the API's columns, in German, French, Spanish,
Italian and Dutch: read as those columns, by the CLI and the ops page alike, like
``First Name`` is read as ``firstname``.

Headers are compared as ``api.normalise_column_name`` makes them: case, accents, ``ß``/``ss``,
spaces, ``_``, ``-``, ``.`` and apostrophes do not count, so ``Straße``, ``Strasse`` and
``STRASSE`` are one header, and so are ``Prénom`` and ``prenom``.

A header is listed only when it means its column and nothing else in the sheets it comes
from. ``username`` and ``password`` change how a customer signs in, so their words
(``SIGN_IN_ALIASES``: "Benutzername", "mot de passe", "contraseña") are never read as them: the
ops page names the column they likely mean and a person maps it, the command line asks for
``--map``. A word that may just as well mean the customer, a login id or a key ("Benutzer",
"utilisateur", "usuario", "utente", "identifiant", "login", "clave") is not listed at all.
Neither is a word that as often names something else in a customer sheet: Spanish "estado"
and Italian "stato" are as often a status as a state, Italian "via" (street) is an English
word too. Lookup ids are listed only as "the customer's number" words ("Kundennummer",
"numéro client"), never a bare "Nr" or "ID". Short words that hide inside longer ones ("Ort"
in "Sortierung") are matched as whole headers only, like every alias.
"""

from __future__ import annotations

from typing import Final

#: API column -> the headers that mean it, by language (de, fr, es, it, nl).
ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "customer_id": (
        "Kundennummer", "Kunden-Nr", "Kundennr", "Kunden-ID", "Kundenid",
        "numéro client", "numéro de client", "n° client", "id client", "identifiant client",
        "número de cliente", "número cliente", "id cliente", "id de cliente",
        "codice cliente", "numero cliente",
        "klantnummer", "klant-id", "klantnr",
    ),
    "subscription_id": (
        "Abonnement-ID", "Abonnementnummer", "Abo-ID", "Abonummer",
        "id abonnement", "numéro d'abonnement", "numéro abonnement",
        "id suscripción", "número de suscripción",
        "id abbonamento", "numero abbonamento",
        "abonnementsnummer", "abonnementnummer",
    ),
    "orderid": (
        "Bestellnummer", "Bestell-ID", "Bestellnr", "Auftragsnummer",
        "numéro de commande", "id commande", "n° de commande",
        "número de pedido", "id pedido", "id de pedido",
        "numero ordine", "id ordine", "numero d'ordine",
        "bestelnummer", "ordernummer",
    ),
    "firstname": (
        "Vorname", "Rufname",
        "prénom",
        "nombre", "nombre de pila",
        "nome",
        "voornaam",
    ),
    "lastname": (
        "Nachname", "Familienname", "Zuname",
        "nom", "nom de famille",
        "apellido", "apellidos",
        "cognome",
        "achternaam", "familienaam",
    ),
    "email": (
        "E-Mail-Adresse", "Email-Adresse", "Mailadresse",
        "courriel", "adresse e-mail", "adresse électronique", "adresse mail", "mél",
        "correo", "correo electrónico", "dirección de correo", "dirección de correo electrónico",
        "posta elettronica", "indirizzo email", "indirizzo e-mail",
        "indirizzo di posta elettronica",
        "e-mailadres", "mailadres",
    ),
    "address1": (
        "Straße", "Adresse", "Anschrift", "Straße und Hausnummer", "Adresse 1",
        "rue", "adresse 1", "ligne d'adresse 1",
        "dirección", "calle", "domicilio", "dirección 1",
        "indirizzo", "indirizzo 1",
        "adres", "straat", "adres 1", "straat en huisnummer",
    ),
    "address2": (
        "Adresszusatz", "Adresse 2",
        "complément d'adresse", "ligne d'adresse 2",
        "dirección 2",
        "indirizzo 2",
        "adres 2", "adresregel 2",
    ),
    "city": (
        "Ort", "Stadt", "Wohnort",
        "ville", "localité",
        "ciudad", "localidad", "población",
        "città", "località", "comune",
        "plaats", "woonplaats", "stad",
    ),
    "state": (
        "Bundesland", "Region", "Kanton",
        "région", "province",
        "provincia", "región",
        "regione",
        "provincie",
    ),
    "country": (
        "Land",
        "pays",
        "país",
        "paese", "nazione",
        "land",
    ),
    "zip": (
        "PLZ", "Postleitzahl",
        "code postal",
        "código postal",
        "CAP", "codice postale",
        "postcode",
    ),
}

#: The words for ``username`` and ``password``, by language: never read as those columns on
#: their own, only named to the person who maps them (``names.closest``).
SIGN_IN_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "username": (
        "Benutzername", "Anmeldename",
        "nom d'utilisateur",
        "nombre de usuario",
        "nome utente",
        "gebruikersnaam",
    ),
    "password": (
        "Passwort", "Kennwort",
        "mot de passe",
        "contraseña",
        "parola d'ordine",
        "wachtwoord",
    ),
}
