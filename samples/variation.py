"""Name pools and the variations of the synthetic person records (typos, case, phone
formats, unique numbers): the building blocks of :mod:`samples.synthetic`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from identity import normalize as nz


def or_none(mask: np.ndarray[Any, Any], values: Any) -> np.ndarray[Any, Any]:
    """``values`` where ``mask``, else None (object array)."""
    out = np.empty(len(mask), dtype=object)
    out[mask] = np.asarray(values, dtype=object)[mask]
    return out


def words(text: str, sep: str | None = None) -> list[str]:
    return [w.strip() for w in text.split(sep) if w.strip()]


FIRST = words(
    "james john robert michael william david richard joseph thomas charles christopher "
    "daniel matthew anthony mark donald steven paul andrew joshua kenneth kevin brian "
    "george timothy ronald edward jason jeffrey ryan jacob gary nicholas eric jonathan "
    "stephen larry justin scott brandon benjamin samuel gregory alexander frank patrick "
    "raymond jack dennis jerry tyler aaron jose adam nathan henry douglas zachary peter "
    "kyle noah ethan jeremy walter christian keith roger terry austin sean gerald carl "
    "harold dylan arthur lawrence jordan jesse bryan billy bruce gabriel joe logan alan "
    "juan albert willie elijah wayne randy mary patricia jennifer linda elizabeth barbara "
    "susan jessica sarah karen lisa nancy betty sandra margaret ashley kimberly emily "
    "donna michelle carol amanda melissa deborah stephanie dorothy rebecca sharon laura "
    "cynthia amy kathleen angela shirley brenda emma anna pamela nicole samantha katherine "
    "christine helen debra rachel carolyn janet maria olivia heather diane julie joyce "
    "victoria ruth virginia lauren kelly christina joan evelyn judith andrea hannah megan "
    "cheryl jacqueline martha madison teresa gloria sara janice ann kathryn abigail sophia "
    "frances jean alice judy isabella julia grace amber denise danielle marilyn beverly "
    "charlotte natalie theresa diana brittany doris kayla alexis lori marie "
)
RUSSIAN_FIRST = words(
    "Александр Дмитрий Сергей Андрей Алексей Иван Михаил Наталья Елена Ольга Татьяна Мария "
    "Анна Ирина "
)
RUSSIAN_LAST = words(
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Федоров "
    "Морозов Волков Лебедев Козлов "
)
LAST = words(
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez "
    "lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson "
    "white harris sanchez clark ramirez lewis robinson walker young allen king wright "
    "scott torres nguyen hill flores green adams nelson baker hall rivera campbell "
    "mitchell carter roberts gomez phillips evans turner diaz parker cruz edwards collins "
    "reyes stewart morris morales murphy cook rogers gutierrez ortiz morgan cooper "
    "peterson bailey reed kelly howard ramos kim cox ward richardson watson brooks chavez "
    "wood james bennett gray mendoza ruiz hughes price alvarez castillo sanders patel "
    "myers long ross foster jimenez "
)
SYL_A = "bar ber bor cal car dan del dor fal fer gal gar hal har kel ken lan lar mal mar nor " \
    "pel per ral ren sal sel tal ter val ven wal wen zel kor bran stal gren"  # fmt: skip
SYL_B = "ton son ley man berg field ford wood well land stein sky ridge more worth ham by " \
    "dale win ger ner ick ard ett ine ova enko ski sen strom holm"  # fmt: skip
COMPANY_A = "acme global united pioneer summit apex vertex nova blue red green silver golden " \
    "north south east west alpha delta omega prime bright clear rapid smart first metro " \
    "urban coastal harbor river mountain"  # fmt: skip
COMPANY_B = "systems solutions logistics foods media labs analytics partners holdings " \
    "consulting software energy health capital dynamics networks industries retail " \
    "robotics finance"  # fmt: skip
LEGAL = ["", " Inc.", " LLC", " Ltd", " GmbH", " Corp", ", Inc.", " Co."]
TITLES = words(
    "ceo;cto;cfo;vp marketing;vp sales;marketing manager;sales manager;account executive;"
    "software engineer;data analyst;product manager;hr manager;office manager;consultant;"
    "director of operations;head of growth;designer;accountant",
    sep=";",
)
FREE = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com"]
ROLE = ["info", "sales", "contact", "office"]


def nick_reverse() -> dict[str, list[str]]:
    rev: dict[str, list[str]] = {}
    for nick, canon in nz.NICKNAMES.items():
        if len(nick) > 2:
            rev.setdefault(canon, []).append(nick)
    return rev


def typo(rng: np.random.Generator, values: np.ndarray[Any, Any], share: float) -> None:
    """In place: one random edit (substitute, delete, transpose) in ``share`` of values."""
    idx = np.flatnonzero(rng.random(len(values)) < share)
    kinds = rng.integers(0, 3, len(idx))
    pos = rng.random(len(idx))
    letters = rng.integers(97, 123, len(idx))
    for i, k, p, ch in zip(
        idx.tolist(), kinds.tolist(), pos.tolist(), letters.tolist(), strict=True
    ):
        s = values[i]
        if not isinstance(s, str) or len(s) < 4:
            continue
        j = 1 + int(p * (len(s) - 2))  # keep the first letter
        if k == 0:
            values[i] = s[:j] + chr(ch) + s[j + 1 :]
        elif k == 1:
            values[i] = s[:j] + s[j + 1 :]
        else:
            values[i] = s[: j - 1] + s[j] + s[j - 1] + s[j + 1 :] if j < len(s) else s


def case(rng: np.random.Generator, values: pd.Series) -> pd.Series:
    """Random case/spacing variants: lower, UPPER, Title, padded."""
    r = rng.random(len(values))
    out = values.copy()
    out[r < 0.15] = values[r < 0.15].str.upper()
    mid = (r >= 0.15) & (r < 0.75)
    out[mid] = values[mid].str.title()
    pad = r >= 0.95
    out[pad] = "  " + values[pad] + " "
    return out


def phone_format(rng: np.random.Generator, digits: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    d = pd.Series(digits, dtype=object)
    a, b, c = d.str[:3], d.str[3:6], d.str[6:]
    fmt = rng.integers(0, 5, len(d))
    out = np.where(fmt == 0, "(" + a + ") " + b + "-" + c,
          np.where(fmt == 1, a + "-" + b + "-" + c,
          np.where(fmt == 2, "+1 " + a + " " + b + " " + c,
          np.where(fmt == 3, d, "1." + a + "." + b + "." + c))))  # fmt: skip
    return np.asarray(out, dtype=object)


def unique_numbers(count: int, offset: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """``count`` distinct 10-digit NANP-like numbers (an affine bijection mod 8e9)."""
    modulus = 8_000_000_000
    mult = 1_234_567_891  # odd and not a multiple of 5: coprime with 8e9
    shift = int(rng.integers(0, modulus))
    idx = np.arange(offset, offset + count, dtype=np.int64)
    vals = 2_000_000_000 + (idx * mult + shift) % modulus
    return vals.astype(str).astype(object)


def pick(rng: np.random.Generator, n: int, probs: dict[str, float]) -> np.ndarray[Any, Any]:
    keys = np.array(list(probs), dtype=object)
    p = np.array(list(probs.values()), dtype=float)
    return keys[rng.choice(len(keys), n, p=p / p.sum())]


def pairs(
    rng: np.random.Generator, pool: np.ndarray[Any, Any], n_pairs: int
) -> np.ndarray[Any, Any]:
    """``n_pairs`` disjoint pairs of people drawn from ``pool`` (shape ``(n_pairs, 2)``)."""
    n_pairs = min(n_pairs, len(pool) // 2)
    chosen = rng.choice(pool, 2 * n_pairs, replace=False)
    return chosen.reshape(n_pairs, 2)
