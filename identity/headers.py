"""Which raw column is which person field: header synonyms and the mapping report.

``guess_mapping`` maps a file's headers to the input fields of ``identity.records`` without
help: English export headers (CRM, marketing, FEBRL registers) and German, French, Spanish,
Italian, Portuguese, Dutch and Russian synonyms. Headers are compared as keys
(``header_key``): lower-cased, accents removed, spaces and punctuation dropped, so
``Prénom``, ``PRENOM`` and ``pré-nom`` are one key. A header that is not a synonym itself
may still be one after a common prefix (``customer_``, ``contact``, ``billing``, ...).

Each field takes one column, the first in file order, with two exceptions: several address
columns are joined (``address_1`` + ``address_2`` lines are kept apart: see
``identity.records``), and a *weak* synonym (``title``, ``name``, ``mail``, ...) never
takes a field that a specific one (``job_title``, ``full_name``, ``email``) claims.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Fields a raw column may be mapped to (``--map SRC=FIELD``).
INPUT_FIELDS: tuple[str, ...] = (
    "first_name",
    "middle_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "company",
    "job_title",
    "street_number",
    "address",
    "address_2",
    "city",
    "postcode",
    "state",
    "country",
    "birth_date",
    "birth_year",
    "birth_month",
    "birth_day",
    "birth_place",
    "occupation",
    "gender",
    "national_id",
)

#: Fields whose columns are joined (in file order) rather than the first one winning.
JOINED_FIELDS = frozenset({"street_number", "address"})


def _aliases(field: str, *keys: str) -> dict[str, str]:
    return {header_key(k): field for k in keys}


def header_key(name: object) -> str:
    """``"Prénom "`` -> ``"prenom"``: lower case, accents removed, only letters and digits."""
    text = unicodedata.normalize("NFKD", str(name).lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return "".join(ch for ch in text.replace("ß", "ss") if ch.isalnum())


#: Specific synonyms: they claim their field over any weak synonym.
HEADER_ALIASES: dict[str, str] = {
    **_aliases("first_name", "first_name", "firstname", "first name", "given_name", "givenname",
               "given names", "forename", "forenames", "fname", "christian_name", "name1",
               "vorname", "rufname", "prénom", "prenom", "nombre", "nombres", "primer_nombre",
               "nome", "primeiro_nome", "voornaam", "imya", "имя"),
    **_aliases("middle_name", "middle_name", "middlename", "middle_names", "middle_initial",
               "mname", "second_name", "patronymic", "otchestvo", "отчество", "segundo_nombre",
               "tussenvoegsel"),
    **_aliases("last_name", "last_name", "lastname", "last name", "surname", "family_name",
               "familyname", "lname", "name2", "nachname", "familienname", "nom", "nom_de_famille",
               "apellido", "apellidos", "primer_apellido", "cognome", "sobrenome", "apelido",
               "achternaam", "familiya", "фамилия"),
    **_aliases("full_name", "full_name", "fullname", "contact_name", "person_name",
               "display_name", "customer_name", "client_name", "member_name", "patient_name",
               "nom_complet", "nombre_completo", "nome_completo", "vollständiger_name",
               "fio", "фио", "полное_имя"),
    **_aliases("email", "email", "e-mail", "email_address", "e_mail_address", "emailaddress",
               "email1", "primary_email", "work_email", "business_email", "personal_email",
               "courriel", "adresse_email", "adresse_mail", "mél", "correo",
               "correo_electronico", "correo electrónico", "posta_elettronica", "эл_почта",
               "электронная_почта", "почта", "емейл"),
    **_aliases("phone", "phone", "phone_number", "phonenumber", "phone1", "telephone",
               "telephone_number", "tel", "tel_no", "mobile", "mobile_phone", "mobile_number",
               "mobile_phone_number", "phone_no", "telephone_no", "home_phone_number",
               "work_phone_number",
               "cell", "cellphone", "cell_phone", "work_phone", "business_phone", "home_phone",
               "primary_phone", "telefon", "telefonnummer", "handy", "mobil", "téléphone",
               "portable", "teléfono", "telefono", "celular", "móvil", "cellulare", "telefone",
               "telefoon", "телефон", "мобильный", "тел"),
    **_aliases("company", "company", "company_name", "companyname", "organisation",
               "organization", "organisation_name", "organization_name", "account_name",
               "accountname", "employer", "employer_name", "firm", "business_name", "firma",
               "unternehmen", "arbeitgeber", "entreprise", "société", "employeur", "empresa",
               "compañía", "azienda", "società", "bedrijf", "компания", "организация",
               "работодатель"),
    **_aliases("job_title", "job_title", "jobtitle", "job", "job_role", "jobrole",
               "job_position", "designation", "berufsbezeichnung", "fonction",
               "poste", "intitulé_du_poste", "cargo", "puesto", "ruolo", "functie",
               "должность"),
    **_aliases("street_number", "street_number", "streetnumber", "street_no", "house_number",
               "housenumber", "house_no", "building_number", "hausnummer", "numéro", "numero",
               "numéro_de_rue", "número", "huisnummer", "номер_дома", "дом"),
    **_aliases("address", "address", "street", "street_address", "streetaddress", "address_1",
               "address1", "address_line_1", "addressline1", "address_line1", "adr1",
               "street_name", "mailing_address", "home_address", "postal_address",
               "adresse", "straße", "strasse", "rue", "dirección", "direccion", "calle",
               "indirizzo", "via", "endereço", "rua", "adres", "straat", "адрес", "улица"),
    **_aliases("address_2", "address_2", "address2", "address_line_2", "addressline2",
               "address_line2", "adr2", "adresszusatz", "complément_d_adresse",
               "complemento"),
    **_aliases("city", "city", "town", "town_city", "locality", "suburb", "city_name",
               "municipality", "stadt", "ort", "wohnort", "ville", "commune", "ciudad",
               "localidad", "municipio", "città", "comune", "cidade", "woonplaats", "plaats",
               "город", "населенный_пункт"),
    **_aliases("postcode", "postcode", "post_code", "postal_code", "postalcode", "zip",
               "zipcode", "zip_code", "zip5", "zip_postal_code", "postcode_zip",
               "postal_zip_code", "pincode", "pin_code", "plz", "postleitzahl",
               "code_postal", "cp", "código_postal", "codigo_postal", "cap", "cep",
               "индекс", "почтовый_индекс"),
    **_aliases("state", "state", "county", "region", "province", "state_province",
               "state_code", "state_region", "territory", "bundesland", "département",
               "departement", "région", "provincia", "estado", "regione", "provincie", "регион",
               "область", "край"),
    **_aliases("country", "country", "country_code", "countrycode", "country_region", "nation",
               "land", "pays", "país", "paese", "страна"),
    **_aliases("birth_date", "birth_date", "birthdate", "date_of_birth", "dateofbirth", "dob",
               "birthday", "birth", "born", "geburtsdatum", "geburtstag", "date_de_naissance",
               "date_naissance", "fecha_nacimiento", "fecha_de_nacimiento", "data_di_nascita",
               "data_nascimento", "data_de_nascimento", "geboortedatum", "дата_рождения",
               "день_рождения", "др"),
    **_aliases("birth_year", "birth_year", "birthyear", "year_of_birth", "yearofbirth", "yob",
               "dob_year", "byear", "geburtsjahr", "année_de_naissance", "año_de_nacimiento",
               "anno_di_nascita", "год_рождения"),
    **_aliases("birth_month", "birth_month", "birthmonth", "month_of_birth", "dob_month",
               "bmonth", "geburtsmonat", "mois_de_naissance", "mes_de_nacimiento",
               "месяц_рождения"),
    **_aliases("birth_day", "birthday_day", "day_of_birth", "birthdayofmonth",
               "dob_day", "bday", "geburtstag_tag", "jour_de_naissance", "día_de_nacimiento",
               "день_рождения_число"),
    **_aliases("birth_place", "birth_place", "birthplace", "place_of_birth", "pob",
               "born_in", "birth_city", "city_of_birth", "geburtsort", "lieu_de_naissance",
               "lugar_de_nacimiento", "lugar_nacimiento", "luogo_di_nascita",
               "local_de_nascimento", "geboorteplaats", "место_рождения"),
    **_aliases("occupation", "occupation", "profession", "trade", "beruf", "métier",
               "ocupación", "profesión", "professione", "profissão", "beroep", "профессия",
               "род_занятий"),
    **_aliases("gender", "gender", "sex", "geschlecht", "sexe", "genre", "sexo", "género",
               "sesso", "geslacht", "пол"),
    **_aliases("national_id", "national_id", "nationalid", "soc_sec_id", "ssn",
               "social_security_number", "soc_sec_no", "nin", "national_insurance_number",
               "tax_id", "personal_id", "id_number", "personnummer", "steuer_id", "nir",
               "dni", "nif", "codice_fiscale", "cpf", "bsn", "снилс", "инн"),
}  # fmt: skip

#: Weak synonyms: they take a field only if no specific synonym in the file claims it
#: (``title`` may be a salutation; ``name`` may be a surname in German files).
WEAK_ALIASES: dict[str, str] = {
    **_aliases("first_name", "first", "given"),
    **_aliases("middle_name", "middle"),
    **_aliases("last_name", "last", "family"),
    **_aliases("full_name", "name", "person", "customer"),
    **_aliases("email", "mail", "email2", "secondary_email"),
    **_aliases("phone", "phone2", "contact_number"),
    **_aliases("company", "org", "account", "business"),
    **_aliases("job_title", "title", "position", "role", "titre", "titel"),
    **_aliases("address", "address_line", "addr"),
    **_aliases("postcode", "postal", "post"),
}  # fmt: skip

#: Prefixes (as keys) stripped from a header that is not a synonym itself.
_PREFIXES = tuple(
    header_key(p)
    for p in ("customer", "contact", "client", "person", "member", "user", "patient",
              "account", "primary", "main", "home", "personal", "work", "business",
              "billing", "mailing", "shipping", "residential", "current", "the", "my")
)  # fmt: skip

_ID_ALIASES = tuple(
    header_key(a)
    for a in ("id", "unique_id", "rec_id", "record_id", "contact_id", "customer_id", "user_id",
              "uid", "person_id", "member_id", "client_id", "patient_id", "key", "row_id")
)  # fmt: skip


def field_for(header: str) -> tuple[str, bool] | None:
    """The field a header names and whether the synonym is specific (``None``: unknown)."""
    key = header_key(header)
    for candidate in (key, *(key[len(p) :] for p in _PREFIXES if key.startswith(p))):
        if not candidate:
            continue
        if candidate in HEADER_ALIASES:
            return HEADER_ALIASES[candidate], True
        if candidate in WEAK_ALIASES:
            return WEAK_ALIASES[candidate], False
    return None


def guess_mapping(columns: Sequence[str]) -> dict[str, str]:
    """Map recognised raw headers to input fields (see the module doc for who wins)."""
    found = {c: field_for(c) for c in columns}
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for specific in (True, False):
        for col in columns:
            hit = found[col]
            if hit is None or hit[1] is not specific:
                continue
            field = hit[0]
            if field not in taken or field in JOINED_FIELDS:
                mapping[col] = field
                taken.add(field)
    # "birth_day" and "birthday" are one key: next to split year/month columns it is the day
    split = {"birth_year", "birth_month"} & set(mapping.values())
    for col, fld in mapping.items():
        if split and fld == "birth_date" and header_key(col) == "birthday":
            mapping[col] = "birth_day"
    return {c: mapping[c] for c in columns if c in mapping}


def guess_id_column(columns: Sequence[str]) -> str | None:
    keys = {header_key(c): c for c in reversed(columns)}
    for alias in _ID_ALIASES:
        if alias in keys:
            return keys[alias]
    return None


@dataclass(frozen=True)
class IgnoredColumn:
    column: str
    reason: str


def ignored_columns(
    columns: Sequence[str], mapping: Mapping[str, str], *, id_column: str | None
) -> list[IgnoredColumn]:
    """Every column the mapping leaves out, with why (and, for a synonym that lost to an
    earlier column, which field it names)."""
    out: list[IgnoredColumn] = []
    for col in columns:
        if col == id_column or col in mapping:
            continue
        hit = field_for(col)
        if hit is None:
            reason = "not recognised (use --map COLUMN=FIELD to use it)"
        elif hit[0] in mapping.values():
            first = next(c for c, f in mapping.items() if f == hit[0])
            reason = f"looks like {hit[0]}, which column {first!r} already gives"
        else:
            reason = f"looks like {hit[0]} but was not mapped"
        out.append(IgnoredColumn(col, reason))
    return out
