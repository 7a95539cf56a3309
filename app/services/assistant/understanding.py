"""What a patient's chat message asks for: a rule-based reading, in Vietnamese (with or without
diacritics) and English, of the intent (book, cancel, move, mine, hours, price, next_free, human,
greeting, thanks, unknown) and its slots (specialty, service, doctor, day, week, part of day, time).

Everything is data tables and small pure functions: no network, no model, no database (the
clinic's names come in as a :class:`~app.services.assistant.catalogue.Names` snapshot, optional).
Words are compared folded (diacritics stripped, "đ" as "d", lower case), in whole tokens. A few
folded words mean two things ("sang": "sáng" morning or "sang" to; "toi": "tối" evening or "tôi"
I): when the patient typed the diacritics they decide, else the neighbouring words do.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import TYPE_CHECKING, Any, Iterable

from app.services.text import fold as fold_text

if TYPE_CHECKING:
    from app.services.assistant.catalogue import Names

MAX_CHARS = 500  # a longer message is read up to here

# --- the tables ------------------------------------------------------------------------------------

# Intents, each with the phrases (folded) that signal it. When several are found the first in
# INTENT_PRIORITY wins ("hủy lịch đã đặt" cancels, "đổi lịch khám" moves).
INTENT_PHRASES: dict[str, tuple[str, ...]] = {
    "human": ("gap nhan vien", "nhan vien", "gap nguoi", "nguoi that", "tu van vien", "le tan", "tong dai",
              "noi chuyen voi nguoi", "gap truc tiep", "talk to a person", "talk to a human", "talk to someone",
              "speak to a person", "speak to someone", "speak to a human", "real person", "a human", "human",
              "agent", "staff", "receptionist", "operator"),
    "cancel": ("huy", "huy lich", "huy hen", "bo lich", "khong den duoc", "khong toi duoc", "khong di duoc",
               "cancel", "call off"),
    "move": ("doi lich", "doi hen", "doi sang", "doi qua", "doi ngay", "doi gio", "doi lai", "doi thoi gian",
             "chuyen lich", "chuyen hen", "chuyen sang", "doi lich hen", "lui lich", "hoan lich", "reschedule",
             "move", "postpone", "change my appointment", "change the appointment", "change the time",
             "another time", "another day", "different time", "different day"),
    "mine": ("lich hen cua toi", "lich cua toi", "lich kham cua toi", "toi co lich", "my appointment",
             "my appointments", "my booking", "my bookings"),
    "price": ("gia", "gia bao nhieu", "bao nhieu tien", "het bao nhieu", "chi phi", "bang gia", "muc gia",
              "phi kham", "tien kham", "how much", "price", "prices", "cost", "costs", "fee", "fees", "charge"),
    "hours": ("mo cua", "dong cua", "gio mo cua", "gio lam viec", "lam viec", "gio lam", "may gio mo",
              "opening hours", "open", "opens", "close", "closes", "closed", "hours", "working hours"),
    "next_free": ("khi nao ranh", "luc nao ranh", "ranh", "con trong", "lich trong", "trong lich", "con cho",
                  "con lich", "som nhat", "gan nhat", "next free", "free", "available", "availability",
                  "earliest", "next available", "when can i see"),
    "book": ("dat lich", "dat hen", "dat kham", "dang ky kham", "dang ki kham", "hen kham", "muon kham",
             "can kham", "kham", "lay so", "dat", "book", "booking", "appointment", "schedule", "see a",
             "make an appointment", "visit", "check up", "checkup"),
    "greeting": ("xin chao", "chao", "chao ban", "alo", "hello", "hi", "hey", "good morning", "good afternoon",
                 "good evening"),
    "thanks": ("cam on", "cam on ban", "thank you", "thanks", "thank", "ok thanks"),
}
INTENT_PRIORITY = ("human", "cancel", "move", "mine", "price", "hours", "next_free", "book", "greeting", "thanks")

# What the clinic offers, by a canonical key: the phrases a patient uses. The same phrases find
# the key's services and departments in the catalogue (their folded names contain one of them).
SPECIALTIES: dict[str, tuple[str, ...]] = {
    "dermatology": ("da lieu", "benh da", "kham da", "ngoai da", "dermatology", "dermatologist", "skin",
                    "acne", "mun", "nam da"),
    "dental": ("rang", "rang ham mat", "nha khoa", "nha si", "dentist", "dental", "tooth", "teeth",
               "cao voi", "nho rang"),
    "pediatrics": ("nhi", "nhi khoa", "kham nhi", "tre em", "tre con", "pediatric",
                   "pediatrics", "pediatrician", "paediatric", "child", "children", "kid", "kids", "baby"),
    "eye": ("mat", "nhan khoa", "kham mat", "dau mat", "eye", "eyes", "ophthalmology", "ophthalmologist"),
    "ent": ("tai mui hong", "tmh", "noi soi tai mui hong", "viem hong", "viem xoang", "ent", "ear",
            "ears", "nose", "throat", "sinus"),
    "obgyn": ("san phu khoa", "phu khoa", "san khoa", "kham thai", "sieu am thai", "mang thai", "co bau",
              "gynecology", "gynaecology", "gynecologist", "obstetrics", "pregnancy", "pregnant", "prenatal"),
    "internal": ("noi khoa", "noi tong quat", "kham tong quat", "kham benh", "benh noi khoa", "general practice",
                 "general practitioner", "gp", "internal medicine", "general check", "general consultation"),
    "cardiology": ("tim mach", "kham tim", "benh tim", "huyet ap", "cardiology", "cardiologist", "heart",
                   "blood pressure"),
    "lab": ("xet nghiem", "xet nghiem mau", "thu mau", "lab", "lab test", "blood test", "laboratory"),
    "imaging": ("sieu am", "x quang", "xquang", "chup phim", "chan doan hinh anh", "ultrasound", "x ray",
                "xray", "scan", "imaging"),
    "nutrition": ("dinh duong", "bieng an", "nutrition", "nutritionist", "diet"),
    "checkup": ("kham suc khoe", "suc khoe tong quat", "goi kham", "health check", "health checkup",
                "annual checkup", "full checkup"),
}

# Days: offsets from today, weekdays (Monday 0), and which week.
RELATIVE_DAYS: dict[str, int] = {
    "hom nay": 0, "bay gio": 0, "today": 0, "now": 0, "mai": 1, "ngay mai": 1, "tomorrow": 1,
    "ngay kia": 2, "ngay mot": 2, "day after tomorrow": 2,
}
_VI_WEEKDAYS = (("hai", "2"), ("ba", "3"), ("tu", "4"), ("nam", "5"), ("sau", "6"), ("bay", "7"))
_EN_WEEKDAYS = (("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"), ("thursday", "thur", "thurs"),
                ("friday", "fri"), ("saturday", "sat"), ("sunday",))
WEEKDAYS: dict[str, int] = {
    **{f"thu {word}": wd for wd, words in enumerate(_VI_WEEKDAYS) for word in words},
    **{f"t{number}": wd for wd, (_word, number) in enumerate(_VI_WEEKDAYS)},
    "chu nhat": 6, "cn": 6,
    **{word: wd for wd, words in enumerate(_EN_WEEKDAYS) for word in words},
}
# "tuần sau", "next week": the next calendar week (Monday to Sunday); "this": the current one.
WEEKS: dict[str, int] = {"tuan sau": 1, "tuan toi": 1, "next week": 1, "next": 1,
                         "tuan nay": 0, "this week": 0, "this": 0}
PARTS: dict[str, str] = {
    "sang": "morning", "buoi sang": "morning", "morning": "morning", "in the morning": "morning",
    "chieu": "afternoon", "buoi chieu": "afternoon", "afternoon": "afternoon", "trua": "afternoon",
    "toi": "evening", "buoi toi": "evening", "evening": "evening",
}
# Phrases that set a day and a part at once.
DAY_PARTS: dict[str, tuple[int, str]] = {
    "sang nay": (0, "morning"), "chieu nay": (0, "afternoon"), "toi nay": (0, "evening"), "tonight": (0, "evening"),
    "this morning": (0, "morning"), "this afternoon": (0, "afternoon"), "this evening": (0, "evening"),
}
DOCTOR_MARKERS = ("bac si", "bs", "doctor", "dr", "thay thuoc")
# Words that end a doctor's name typed after "bác sĩ" / "Dr" (when the catalogue does not know it).
NAME_STOP = frozenset((
    "khi", "nao", "luc", "con", "co", "ranh", "trong", "lich", "vao", "ngay", "thu", "tuan", "cho", "toi", "ko",
    "khong", "duoc", "nhe", "a", "o", "la", "va", "di", "kham", "voi", "cua", "bao", "gio", "hen", "dat", "next",
    "free", "available", "is", "on", "when", "this", "have", "has", "the", "a", "an", "for", "at", "in",
    "please", "time", "can", "i", "see", "tomorrow", "today", "be", "does", "do", "work", "working",
))

# Words whose folded form means two things: the spellings (with diacritics) that mean the table's
# meaning. A token typed with diacritics must be one of them; one typed without is judged by context.
SPELLINGS: dict[str, tuple[str, ...]] = {
    "sang": ("sáng",), "toi": ("tối",), "mai": ("mai",), "rang": ("răng",), "nhi": ("nhi",), "mat": ("mắt",),
    "gia": ("giá",), "huy": ("hủy", "huỷ"), "dat": ("đặt",), "kham": ("khám",), "ranh": ("rảnh",),
    "mun": ("mụn",), "trua": ("trưa",), "chieu": ("chiều",),
}
_MOVE_WORDS = frozenset(("doi", "chuyen", "qua", "lui", "hoan", "den"))
_MOVE_VERBS = frozenset(("doi", "chuyen", "lui", "hoan", "dich"))
_DAY_WORDS = frozenset(("tuan", "thu", "ngay", "hom", "chu", "thang", "nam", "cn", "luc", "nha", "mai", "mot",
                        "kia", "nay", "t2", "t3", "t4", "t5", "t6", "t7"))


def _sang_is_morning(tokens: list["Token"], i: int) -> bool:
    """"sang" is "to" after a verb of moving ("dời lịch sang thứ 5"), else the morning ("khám
    răng sang thu 5" is "sáng thứ 5")."""
    before = tokens[i - 1].folded if i else ""
    if before in _MOVE_WORDS or before == "sang":
        return False
    return not any(t.folded in _MOVE_VERBS for t in tokens[:i])


def _toi_is_evening(tokens: list["Token"], i: int) -> bool:
    before = tokens[i - 1].folded if i else ""
    after = tokens[i + 1].folded if i + 1 < len(tokens) else ""
    return before in ("buoi", "vao", "luc", "chieu", "tuan") or after in _DAY_WORDS


def _after(words: Iterable[str]) -> Any:
    allowed = frozenset(words)
    return lambda tokens, i: i > 0 and tokens[i - 1].folded in allowed


# Context rules for those words typed without diacritics (True: the table's meaning).
CONTEXT: dict[str, Any] = {
    "sang": _sang_is_morning,
    "toi": _toi_is_evening,
    "nhi": _after(("kham", "khoa", "si", "bs", "benh", "cho", "be", "tre", "vien")),
    "mat": _after(("kham", "dau", "benh", "khoa", "si", "bs")),
    "gia": lambda tokens, i: not ((i + 1 < len(tokens) and tokens[i + 1].folded == "dinh")
                                  or (i > 0 and tokens[i - 1].folded in ("tham", "chuyen", "quoc", "dai"))),
    "rang": lambda tokens, i: not (i > 0 and tokens[i - 1].folded in ("noi", "biet", "nghi", "bao", "cho")),
}

# --- tokens ----------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?|\d{1,2}[:h]\d{2}|\w+")
_POSSESSIVE = re.compile(r"['’]s\b")


@dataclass(frozen=True)
class Token:
    folded: str  # no diacritics, "đ" as "d", lower case
    typed: str  # lower case, as typed (NFC)


def fold(text: str) -> str:
    """Lower case, diacritics stripped ("đ" -> "d"), spaces collapsed."""
    return " ".join(fold_text(unicodedata.normalize("NFC", text or "")).split())


def tokenize(text: str) -> list[Token]:
    typed = _POSSESSIVE.sub("", unicodedata.normalize("NFC", (text or "")[:MAX_CHARS]).lower())
    return [Token(fold(word), word) for word in _TOKEN.findall(typed)]


def _means(tokens: list[Token], i: int) -> bool:
    """Whether the one-word phrase at ``i`` has the table's meaning (see SPELLINGS and CONTEXT)."""
    token = tokens[i]
    spellings = SPELLINGS.get(token.folded)
    if spellings is None:
        return True
    if token.typed != token.folded:  # typed with diacritics: they decide
        return token.typed in spellings
    rule = CONTEXT.get(token.folded)
    return rule is None or bool(rule(tokens, i))


# --- matching --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    kind: str  # "intent", "specialty", "day", "weekday", "week", "part", "day_part", "marker"
    value: Any
    start: int
    end: int  # exclusive


def _phrase_table() -> list[tuple[tuple[str, ...], str, Any]]:
    rows: list[tuple[tuple[str, ...], str, Any]] = []
    for intent, phrases in INTENT_PHRASES.items():
        rows += [(tuple(p.split()), "intent", intent) for p in phrases]
    for key, phrases in SPECIALTIES.items():
        rows += [(tuple(p.split()), "specialty", key) for p in phrases]
    rows += [(tuple(p.split()), "day", offset) for p, offset in RELATIVE_DAYS.items()]
    rows += [(tuple(p.split()), "weekday", wd) for p, wd in WEEKDAYS.items()]
    rows += [(tuple(p.split()), "week", n) for p, n in WEEKS.items()]
    rows += [(tuple(p.split()), "part", part) for p, part in PARTS.items()]
    rows += [(tuple(p.split()), "day_part", value) for p, value in DAY_PARTS.items()]
    rows += [(tuple(p.split()), "marker", None) for p in DOCTOR_MARKERS]
    # Longest first, so that "rang ham mat" is dental before "mat" is an eye and "tuan toi" a week
    # before "toi" an evening.
    rows.sort(key=lambda row: -len(row[0]))
    return rows


PHRASES = _phrase_table()
_BY_FIRST: dict[str, list[tuple[tuple[str, ...], str, Any]]] = {}
for _row in PHRASES:
    _BY_FIRST.setdefault(_row[0][0], []).append(_row)


def find_phrases(tokens: list[Token], taken: set[int]) -> list[Match]:
    """Every table phrase in ``tokens``, longest first, each token used once (``taken`` grows)."""
    words = [t.folded for t in tokens]
    found: list[tuple[int, Match]] = []
    for i in range(len(words)):
        for phrase, kind, value in _BY_FIRST.get(words[i], ()):
            n = len(phrase)
            if tuple(words[i:i + n]) == phrase:
                found.append((n, Match(kind, value, i, i + n)))
    found.sort(key=lambda pair: (-pair[0], pair[1].start))
    matches: list[Match] = []
    for n, match in found:
        span = set(range(match.start, match.end))
        if span & taken:
            continue
        if n == 1 and not _means(tokens, match.start):
            continue
        taken |= span
        matches.append(match)
    matches.sort(key=lambda m: m.start)
    return matches


# --- days and times -----------------------------------------------------------------------------------

_DATE = re.compile(r"^(\d{1,2})[/-](\d{1,2})(?:[/-](\d{2,4}))?$")
_CLOCK = re.compile(r"^(\d{1,2})[:h](\d{2})$|^(\d{1,2})h$")
_AMPM = re.compile(r"^(\d{1,2})(am|pm)$")


def _calendar_date(day: int, month: int, year: int | None, today: date) -> date | None:
    """dd/mm[/yyyy]; without a year the next such date from today."""
    if year is not None and year < 100:
        year += 2000
    try:
        found = date(year or today.year, month, day)
    except ValueError:
        return None
    if year is None and found < today:
        try:
            found = date(today.year + 1, month, day)
        except ValueError:
            return None
    return found


def _day_of_month(day: int, today: date) -> date | None:
    """"ngày 15": the next 15th from today."""
    year, month = today.year, today.month
    for _ in range(13):
        try:
            found = date(year, month, day)
        except ValueError:
            found = None
        if found is not None and found >= today:
            return found
        month, year = (1, year + 1) if month == 12 else (month + 1, year)
    return None


def _numbers(tokens: list[Token], taken: set[int], today: date) -> dict[str, Any]:
    """Dates ("15/12", "15-12-2026", "ngày 15", "ngày 15 tháng 12") and clock times ("9h", "9h30",
    "14:30", "9am", "9 giờ", "lúc 9")."""
    slots: dict[str, Any] = {}
    words = [t.folded for t in tokens]
    for i, word in enumerate(words):
        if i in taken:
            continue
        if m := _DATE.match(word):
            found = _calendar_date(int(m[1]), int(m[2]), int(m[3]) if m[3] else None, today)
            if found:
                slots["day"] = found
                taken.add(i)
            continue
        if m := _CLOCK.match(word):
            hour, minute = (int(m[1]), int(m[2])) if m[1] else (int(m[3]), 0)
            if hour < 24 and minute < 60:
                slots["time"] = time(hour, minute)
                taken.add(i)
            continue
        if m := _AMPM.match(word):
            hour = int(m[1]) % 12 + (12 if m[2] == "pm" else 0)
            if hour < 24:
                slots["time"] = time(hour)
                taken.add(i)
            continue
        if not word.isdigit():
            continue
        before = words[i - 1] if i else ""
        after = words[i + 1] if i + 1 < len(words) else ""
        if before == "ngay" and 1 <= int(word) <= 31:
            month = None
            if after == "thang" and i + 2 < len(words) and words[i + 2].isdigit():
                month = int(words[i + 2])
                taken |= {i + 1, i + 2}
            found = (_calendar_date(int(word), month, None, today) if month
                     else _day_of_month(int(word), today))
            if found:
                slots["day"] = found
                taken |= {i - 1, i}
        elif after in ("gio", "h") or before in ("luc", "at"):
            hour = int(word)
            minute = 0
            if after in ("gio", "h") and i + 2 < len(words) and words[i + 2].isdigit():
                minute = int(words[i + 2])
            if after in ("am", "pm"):
                hour = hour % 12 + (12 if after == "pm" else 0)
            if hour < 24 and minute < 60:
                slots["time"] = time(hour, minute)
                taken.add(i)
        elif after in ("am", "pm") and int(word) <= 12:
            slots["time"] = time(int(word) % 12 + (12 if after == "pm" else 0))
            taken |= {i, i + 1}
    return slots


def resolve_weekday(weekday: int, week: int | None, today: date) -> date:
    """A weekday: in the given week (0 this, 1 next: Monday to Sunday), else the next one after today."""
    if week is None:
        ahead = (weekday - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=week)
    found = monday + timedelta(days=weekday)
    return found if found >= today else found + timedelta(weeks=1)


def next_monday(today: date) -> date:
    return today - timedelta(days=today.weekday()) + timedelta(weeks=1)


# --- doctors ----------------------------------------------------------------------------------------


def _doctor_after_markers(tokens: list[Token], markers: list[Match], taken: set[int]) -> str | None:
    """The words after "bác sĩ" / "Dr" up to a stop word: a name the catalogue did not know."""
    for marker in markers:
        words = []
        for i in range(marker.end, min(len(tokens), marker.end + 4)):
            word = tokens[i].folded
            if i in taken or word in NAME_STOP or word.isdigit():
                break
            words.append(word)
        if words:
            taken |= set(range(marker.end, marker.end + len(words)))
            return " ".join(words)
    return None


# --- the reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Intent:
    name: str  # book, cancel, move, mine, hours, price, next_free, human, greeting, thanks, unknown
    slots: dict[str, Any] = field(default_factory=dict)
    # specialty: a key of SPECIALTIES; service_id, department_id: from the catalogue; doctor: the
    # name as typed (folded); doctor_ids: the catalogue's doctors of that name; day: a date; week:
    # the Monday of the week asked for; part: morning, afternoon or evening; time: a clock time;
    # specialists: the doctors of a specialty that is theirs rather than the catalogue's.


def understand(text: str, language: str, today: date, names: "Names | None" = None) -> Intent:
    """Read one chat message. ``language`` is the patient's (both languages are always read);
    ``today`` the clinic's date that relative days are counted from; ``names`` the clinic's
    doctors, services and departments, when known."""
    tokens = tokenize(text)
    taken: set[int] = set()
    slots: dict[str, Any] = {}
    if names is not None:  # the clinic's own names first: "bác sĩ Huy" is a doctor, not a cancellation
        slots.update(names.find(tokens, taken))
    matches = find_phrases(tokens, taken)
    slots.update(_numbers(tokens, taken, today))
    if "doctor_ids" not in slots:
        doctor = _doctor_after_markers(tokens, [m for m in matches if m.kind == "marker"], taken)
        if doctor:
            slots["doctor"] = doctor
            if names is not None:
                ids = names.doctors_named(doctor)
                if ids:
                    slots["doctor_ids"] = ids
    by_kind: dict[str, list[Match]] = {}
    for match in matches:
        by_kind.setdefault(match.kind, []).append(match)
    specialties = by_kind.get("specialty", [])
    if specialties and "service_id" not in slots:
        first = specialties[0]
        slots["specialty"] = first.value
        if names is not None:
            typed = " ".join(t.folded for t in tokens[first.start:first.end])
            service_id, doctor_ids = names.resolve(first.value, typed, slots.get("doctor_ids"))
            if service_id:
                slots["service_id"] = service_id
            if doctor_ids and "doctor_ids" not in slots:
                slots["specialists"] = doctor_ids
    week = by_kind["week"][0].value if "week" in by_kind else None
    if "day_part" in by_kind:
        offset, part = by_kind["day_part"][0].value
        slots.setdefault("day", today + timedelta(days=offset))
        slots["part"] = part
    if "day" in by_kind:
        slots.setdefault("day", today + timedelta(days=by_kind["day"][0].value))
    if "weekday" in by_kind:
        slots.setdefault("day", resolve_weekday(by_kind["weekday"][0].value, week, today))
    elif week == 1 and "day" not in slots:
        slots["week"] = next_monday(today)
    if "part" in by_kind:
        slots.setdefault("part", by_kind["part"][0].value)
    intents = {m.value for m in by_kind.get("intent", ())}
    return Intent(_choose_intent(intents, slots), slots)


def _choose_intent(intents: set[str], slots: dict[str, Any]) -> str:
    has_doctor = "doctor" in slots or "doctor_ids" in slots
    for name in INTENT_PRIORITY:
        if name not in intents:
            continue
        if name == "hours" and has_doctor:
            return "next_free"  # "bác sĩ Bình thứ 7 có làm việc không"
        if name == "next_free" and not has_doctor:
            return "book"  # "còn chỗ khám răng không": the free times of the service
        if name == "book" and has_doctor and "next_free" in intents:
            return "next_free"
        if name in ("greeting", "thanks") and set(slots) & {"specialty", "service_id", "day", "doctor", "doctor_ids"}:
            return "book"  # "chào bác sĩ, khám da liễu sáng mai"
        return name
    if set(slots) & {"specialty", "service_id", "day", "week", "part", "time"}:
        return "book"  # "da liễu sáng mai"
    if has_doctor:
        return "next_free"
    return "unknown"
