"""Word pools for the demo world: names, companies, places, titles.

Plain data, no logic. Everything the generators pick from lives here so that the
generators stay short and the pools are easy to extend.
"""

from __future__ import annotations

from typing import NamedTuple


class Place(NamedTuple):
    city: str
    country: str  # English name, as a CRM export shows it
    iso: str  # ISO 3166 alpha-2; also picks the phone style and name culture
    region: str  # EMEA | NA | APAC | CIS
    tld: str


PLACES: tuple[Place, ...] = (
    Place("San Francisco", "United States", "US", "NA", "com"),
    Place("New York", "United States", "US", "NA", "com"),
    Place("Austin", "United States", "US", "NA", "com"),
    Place("Chicago", "United States", "US", "NA", "com"),
    Place("Boston", "United States", "US", "NA", "io"),
    Place("Seattle", "United States", "US", "NA", "io"),
    Place("Toronto", "Canada", "CA", "NA", "com"),
    Place("London", "United Kingdom", "GB", "EMEA", "com"),
    Place("Manchester", "United Kingdom", "GB", "EMEA", "io"),
    Place("Berlin", "Germany", "DE", "EMEA", "de"),
    Place("Munich", "Germany", "DE", "EMEA", "de"),
    Place("Hamburg", "Germany", "DE", "EMEA", "de"),
    Place("Paris", "France", "FR", "EMEA", "com"),
    Place("Lyon", "France", "FR", "EMEA", "com"),
    Place("Amsterdam", "Netherlands", "NL", "EMEA", "io"),
    Place("Madrid", "Spain", "ES", "EMEA", "com"),
    Place("Moscow", "Russia", "RU", "CIS", "ru"),
    Place("Saint Petersburg", "Russia", "RU", "CIS", "ru"),
    Place("Kazan", "Russia", "RU", "CIS", "ru"),
    Place("Novosibirsk", "Russia", "RU", "CIS", "ru"),
    Place("Almaty", "Kazakhstan", "KZ", "CIS", "com"),
    Place("Singapore", "Singapore", "SG", "APAC", "io"),
    Place("Tokyo", "Japan", "JP", "APAC", "com"),
    Place("Sydney", "Australia", "AU", "APAC", "com"),
    Place("Bangalore", "India", "IN", "APAC", "io"),
)

#: share of companies per region
REGION_WEIGHTS: dict[str, float] = {"EMEA": 0.40, "NA": 0.30, "APAC": 0.15, "CIS": 0.15}

LEGAL_FORMS: dict[str, tuple[str, ...]] = {
    "US": ("Inc", "Inc.", "LLC", "Corp."),
    "CA": ("Inc", "Ltd"),
    "GB": ("Ltd", "Ltd.", "PLC"),
    "DE": ("GmbH", "AG", "GmbH & Co. KG"),
    "FR": ("SAS", "SA", "SARL"),
    "NL": ("B.V.",),
    "ES": ("S.L.", "S.A."),
    "RU": ("ООО", "АО", "ПАО"),
    "KZ": ("ТОО", "LLP"),
    "SG": ("Pte. Ltd.",),
    "JP": ("K.K.", "Co., Ltd."),
    "AU": ("Pty Ltd",),
    "IN": ("Pvt. Ltd.", "Ltd"),
}

NAME_HEADS: tuple[str, ...] = (
    "North", "Blue", "Silver", "Bright", "Iron", "Cedar", "Summit", "Harbor", "Granite",
    "Pioneer", "Atlas", "Vertex", "Nova", "Lumen", "Quantum", "Evergreen", "Red Oak", "Swift",
    "Polar", "Apex", "Stellar", "Crescent", "Copper", "Maple", "Beacon", "Falcon", "Orbit",
)  # fmt: skip
NAME_TAILS: tuple[str, ...] = (
    "wind", "field", "stone", "bridge", "works", "point", "line", "gate", "wave", "path",
    "Labs", "Systems", "Dynamics", "Partners", "Solutions", "Group", "Networks", "Logistics",
    "Health", "Foods", "Energy", "Analytics", "Robotics", "Supply", "Learning", "Capital",
)  # fmt: skip
RU_NAME_WORDS: tuple[str, ...] = (
    "Ромашка", "Вектор", "Гранит", "Меридиан", "Восход", "Прогресс", "Север", "Альфа-Трейд",
    "ТехноСервис", "СибЛогистик", "Стройинвест", "Агропром", "ЭнергоСбыт", "Медтехника",
    "Орбита", "Интеграл", "Полюс", "Радуга", "Каскад", "Фактор", "Синтез", "Уралмаш-Софт",
)  # fmt: skip

INDUSTRIES: tuple[str, ...] = (
    "manufacturing", "software", "retail", "logistics", "healthcare", "finance", "education",
    "energy",
)  # fmt: skip
#: revenue per employee (USD), a rough median per industry
REVENUE_PER_EMPLOYEE: dict[str, float] = {
    "manufacturing": 260_000, "software": 210_000, "retail": 170_000, "logistics": 190_000,
    "healthcare": 150_000, "finance": 320_000, "education": 90_000, "energy": 450_000,
}  # fmt: skip

TECHNOLOGIES: tuple[str, ...] = (
    "Salesforce", "HubSpot", "SAP", "Microsoft Dynamics", "Oracle", "AWS", "Azure",
    "Google Cloud", "Snowflake", "PostgreSQL", "Kubernetes", "Shopify", "Magento", "Zendesk",
    "Intercom", "Slack", "Marketo", "Tableau", "Power BI", "Jira", "Segment", "Stripe",
)  # fmt: skip
RU_TECHNOLOGIES: tuple[str, ...] = (
    "1C", "Bitrix24", "amoCRM", "Yandex Cloud", "VK Teams", "PostgreSQL", "ClickHouse",
    "Jira", "Tilda",
)  # fmt: skip

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "James", "Robert", "Michael", "William", "David", "Richard", "Thomas", "Daniel",
        "Christopher", "Matthew", "Anthony", "Joshua", "Andrew", "Ann", "Mary", "Jennifer",
        "Elizabeth", "Katherine", "Sarah", "Jessica", "Emily", "Laura", "Rebecca", "Olivia",
        "Samantha", "Priya", "Wei", "Kenji", "Grace", "Hannah", "Nathan", "Rachel",
    ),
    "de": (
        "Johannes", "Lukas", "Stefan", "Jürgen", "Klaus", "Matthias", "Wolfgang", "Andreas",
        "Katrin", "Sabine", "Anja", "Julia", "Franziska", "Ute", "Birgit", "Jörg",
    ),
    "fr": (
        "Jean", "Pierre", "Louis", "Antoine", "Nicolas", "Julien", "François", "Camille",
        "Élodie", "Chloé", "Margaux", "Amélie", "Sophie", "Hélène",
    ),
    "ru": (
        "Александр", "Дмитрий", "Михаил", "Сергей", "Андрей", "Алексей", "Иван", "Николай",
        "Екатерина", "Мария", "Анастасия", "Ольга", "Елена", "Татьяна", "Наталья", "Юлия",
    ),
}  # fmt: skip
LAST_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
        "Anderson", "Thomas", "Moore", "Martin", "Lee", "Thompson", "White", "Harris", "Clark",
        "Lewis", "Walker", "Young", "O'Brien", "McDonald", "Patel", "Chen", "Nguyen", "Tanaka",
        "Kim", "Garcia", "Lopez",
    ),
    "de": (
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Hoffmann", "Schäfer", "Koch", "Richter", "Klein", "Wolf", "Schröder",
    ),
    "fr": (
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
        "Leroy", "Moreau", "Lefèvre", "Fontaine", "Rousseau",
    ),
}  # fmt: skip
#: Russian surnames (male form); the female form adds "а" (Иванов -> Иванова)
RU_LAST_NAMES: tuple[str, ...] = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Федоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семенов", "Егоров",
)  # fmt: skip
RU_FEMALE: frozenset[str] = frozenset(
    ("Екатерина", "Мария", "Анастасия", "Ольга", "Елена", "Татьяна", "Наталья", "Юлия")
)

NICKNAMES: dict[str, str] = {
    "Robert": "Bob", "William": "Bill", "Michael": "Mike", "James": "Jim", "Richard": "Rick",
    "Thomas": "Tom", "Daniel": "Dan", "Christopher": "Chris", "Matthew": "Matt",
    "Anthony": "Tony", "Joshua": "Josh", "Andrew": "Andy", "Elizabeth": "Liz",
    "Katherine": "Kate", "Jennifer": "Jen", "Samantha": "Sam", "Rebecca": "Becky",
    "Johannes": "Hannes", "Matthias": "Matze", "Franziska": "Franzi", "Nicolas": "Nico",
    "Александр": "Саша", "Дмитрий": "Дима", "Михаил": "Миша", "Сергей": "Серёжа",
    "Алексей": "Лёша", "Екатерина": "Катя", "Мария": "Маша", "Анастасия": "Настя",
    "Татьяна": "Таня", "Наталья": "Наташа", "Елена": "Лена",
}  # fmt: skip

ROLE_WEIGHTS: dict[str, float] = {"decision_maker": 0.2, "influencer": 0.35, "end_user": 0.45}
JOB_TITLES: dict[str, tuple[str, ...]] = {
    "decision_maker": (
        "CEO", "CTO", "CFO", "CMO", "COO", "Founder & CEO", "VP of Sales", "VP Marketing",
        "VP Engineering", "Head of Marketing", "Head of IT", "Head of Procurement",
        "Director of Operations", "Sales Director", "Managing Director",
    ),
    "influencer": (
        "Marketing Manager", "Product Manager", "Engineering Manager", "Sales Manager",
        "Project Manager", "Team Lead", "Tech Lead", "Procurement Manager", "CRM Manager",
        "Growth Lead", "IT Manager",
    ),
    "end_user": (
        "Software Engineer", "Data Analyst", "Marketing Specialist", "Support Specialist",
        "Business Analyst", "Sales Development Representative", "Accountant",
        "QA Engineer", "Content Specialist", "Operations Analyst",
    ),
}  # fmt: skip
RU_JOB_TITLES: dict[str, tuple[str, ...]] = {
    "decision_maker": (
        "Генеральный директор", "Коммерческий директор", "Директор по маркетингу",
        "ИТ-директор", "Head of Sales",
    ),
    "influencer": (
        "Руководитель проекта", "Менеджер по закупкам", "Менеджер по маркетингу", "Team Lead",
    ),
    "end_user": ("Аналитик", "Инженер-программист", "Специалист по маркетингу", "Бухгалтер"),
}  # fmt: skip

FREE_MAIL: dict[str, tuple[str, ...]] = {
    "en": ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com"),
    "de": ("gmail.com", "web.de", "gmx.de", "t-online.de"),
    "fr": ("gmail.com", "orange.fr", "free.fr", "hotmail.fr"),
    "ru": ("mail.ru", "yandex.ru", "gmail.com", "bk.ru"),
}

CYRILLIC_TO_LATIN: dict[str, str] = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "ç": "c",
    "ê": "e", "ô": "o", "à": "a", "â": "a", "î": "i", "ï": "i",
}  # fmt: skip
