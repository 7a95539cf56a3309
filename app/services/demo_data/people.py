"""Demo people: name pools (Vietnamese surnames, middle and given names by sex and generation,
Faker's vi_VN lists), addresses, phone numbers, citizen ids, and the patients themselves."""
from __future__ import annotations

from datetime import timedelta

from faker.providers.person.vi_VN import Provider as _VnPersonProvider

from app.services.demo_data.core import PatientDraft, SeederCore, Weighted, merge_unique
from app.services.demo_data.population import (
    ALLERGIES,
    CCCD_PROVINCES,
    EMAIL_DOMAINS,
    GIVEN_FEMALE,
    GIVEN_MALE,
    MIDDLE_FEMALE,
    MIDDLE_MALE,
    MOBILE_PREFIXES,
    SURNAMES,
)
from app.services.people import PATIENT_CODE_PREFIX
from app.services.text import fold


class People(SeederCore):
    """Builds the name pools and the patients."""

    # ---- pools -----------------------------------------------------------------------------

    def build_name_pools(self) -> None:
        rng, fake = self.rng, self.fake
        vn = _VnPersonProvider
        surname_weights = dict(SURNAMES)
        self.surnames = Weighted([(s, surname_weights.get(s, 3)) for s in merge_unique(vn.last_names, dict(SURNAMES))])
        faker_female = [n for n in merge_unique(vn.first_names_female, vn.first_names_unisex)]
        faker_male = [n for n in merge_unique(vn.first_names_male, vn.first_names_unisex)]
        self.given = {"female": merge_unique(GIVEN_FEMALE, faker_female), "male": merge_unique(GIVEN_MALE, faker_male)}
        self.middle = {"male": Weighted(MIDDLE_MALE), "female": Weighted(MIDDLE_FEMALE)}
        # The young are less often "Văn" or "Thị".
        self.middle_young = {
            "male": Weighted([(m, w / 4 if m == "Văn" else w) for m, w in MIDDLE_MALE]),
            "female": Weighted([(m, w / 4 if m == "Thị" else w) for m, w in MIDDLE_FEMALE]),
        }
        self.female_second_middle = Weighted([(m, w) for m, w in MIDDLE_FEMALE if m != "Thị"])
        # Addresses: Faker's streets and wards, mostly in the clinic's city.
        streets = [fake.street_address() for _ in range(3000)]
        wards = [w[:1].upper() + w[1:] for w in (fake.commune() for _ in range(400))]
        provinces = [p[:1].upper() + p[1:] for p in (fake.province() for _ in range(200))]
        self.addresses = []
        for street in streets:
            city = "TP. Hồ Chí Minh" if rng.random() < 0.65 else rng.choice(provinces)
            self.addresses.append(f"{street}, {rng.choice(wards)}, {city}")
        self._phones: set[str] = set()
        self._national_ids: set[str] = set()
        self.cccd_province = Weighted(CCCD_PROVINCES)

    def person_name(self, sex: str, birth_year: int, surname: str | None = None) -> tuple[str, str, str]:
        rng = self.rng
        last = surname or self.surnames.pick(rng)
        middle = (self.middle_young if birth_year >= 2000 else self.middle)[sex].pick(rng)
        given_pool = self.given[sex]
        given = given_pool[int(rng.random() * len(given_pool))]
        if given == middle:
            given = given_pool[int(rng.random() * len(given_pool))]
        if middle == "Thị" and rng.random() < 0.3:
            second = self.female_second_middle.pick(rng)
            if second != given:
                middle = f"{middle} {second}"
        return f"{last} {middle} {given}", last, given

    def phone(self) -> str:
        rng = self.rng
        while True:
            number = f"+84{MOBILE_PREFIXES[int(rng.random() * len(MOBILE_PREFIXES))]}{rng.randrange(10_000_000):07d}"
            if number not in self._phones:
                self._phones.add(number)
                return number


    # ---- patients --------------------------------------------------------------------------

    def build_patients(self, n: int) -> None:
        rng, today = self.rng, self.today
        ages = Weighted([((0, 5), 9), ((6, 15), 13), ((16, 40), 35), ((41, 60), 25), ((61, 90), 18)])
        blood = Weighted([(None, 20), ("unknown", 8), ("O+", 30), ("B+", 22), ("A+", 15), ("AB+", 4.5),
                           ("O-", 0.2), ("A-", 0.1), ("B-", 0.1), ("AB-", 0.1)])
        self.patients: list[PatientDraft] = []
        self.patient_rows_extra: list[tuple] = []
        addresses = self.addresses
        for pid in range(1, n + 1):
            p = PatientDraft()
            p.id = pid
            p.code = f"{PATIENT_CODE_PREFIX}{pid:06d}"
            p.sex = "female" if rng.random() < 0.52 else "male"
            lo, hi = ages.pick(rng)
            age_days = rng.randint(lo * 365 + (30 if lo == 0 else 0), hi * 365 + 364)
            p.dob = today - timedelta(days=age_days)
            age = age_days // 365
            p.group = "c" if age < 16 else ("f" if p.sex == "female" else "m")
            p.full_name, p.last, given = self.person_name(p.sex, p.dob.year)
            p.phone = self.phone() if age >= 14 or rng.random() < 0.3 else None
            p.first_visit = None
            # The rest is only needed for the row itself.
            email = None
            if age >= 16 and rng.random() < 0.45:
                email = (f"{fold(given)}{fold(p.last)}{p.dob.year % 100:02d}"
                         f"@{EMAIL_DOMAINS[int(rng.random() * 3)]}").replace(" ", "")
            national_id = None
            if age >= 14 and rng.random() < 0.9:
                century = 0 if p.dob.year < 2000 else 2
                digit = century + (1 if p.sex == "female" else 0)
                while True:
                    candidate = (f"{self.cccd_province.pick(rng)}{digit}{p.dob.year % 100:02d}"
                                 f"{rng.randrange(1_000_000):06d}")
                    if candidate not in self._national_ids:
                        self._national_ids.add(candidate)
                        national_id = candidate
                        break
            insurance = None
            if rng.random() < 0.55:
                kind = ("TE" if age < 6 else "HS" if age < 18 else "HT" if age >= 60
                        else ("DN", "GD", "HC", "CN")[int(rng.random() * 4)])
                level = 1 if kind == "TE" else (2 if kind == "HT" else 4)
                insurance = f"{kind}{level}79{rng.randrange(10_000_000_000):010d}"
            allergies = ALLERGIES[int(rng.random() * len(ALLERGIES))] if rng.random() < 0.07 else None
            if age < 16 or rng.random() < 0.3:
                parent_sex = "female" if rng.random() < 0.6 else "male"
                contact_name = self.person_name(parent_sex, p.dob.year - 28,
                                                surname=p.last if parent_sex == "male" and age < 16 else None)[0]
                contact_phone = self.phone()
            else:
                contact_name, contact_phone = None, None
            self.patients.append(p)
            self.patient_rows_extra.append((email, addresses[int(rng.random() * len(addresses))], national_id,
                                            insurance, blood.pick(rng), allergies, contact_name, contact_phone))
        self.by_group: dict[str, list[int]] = {"c": [], "f": [], "m": []}
        for p in self.patients:
            self.by_group[p.group].append(p.id)

