"""The chat assistant's reading of patients' messages (app/services/assistant/understanding.py):
a table of phrases in Vietnamese (with and without diacritics) and English, each with the
intent and every slot it must give, no more (a stray "evening" read from "tôi" fails here).
Days are resolved against a fixed Wednesday."""
from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

import pytest

from app.services.assistant.catalogue import DoctorName, Names, ServiceName, name_typed, name_words
from app.services.assistant.understanding import fold, understand

TODAY = date(2026, 12, 2)  # a Wednesday
NEXT_WEEK = date(2026, 12, 7)  # its next Monday


def D(days: int) -> date:  # noqa: N802  (reads like the table's dates)
    return TODAY + timedelta(days=days)


PHRASES = [
    # --- book, Vietnamese with diacritics
    ("đặt lịch khám da liễu sáng mai", "book", {"specialty": "dermatology", "day": D(1), "part": "morning"}),
    ("Tôi muốn đặt lịch khám răng chiều thứ 6", "book", {"specialty": "dental", "day": D(2), "part": "afternoon"}),
    ("cho tôi đặt hẹn khám nhi thứ 3 tuần sau", "book", {"specialty": "pediatrics", "day": D(6)}),
    ("Đặt lịch khám tai mũi họng ngày kia", "book", {"specialty": "ent", "day": D(2)}),
    ("tối mai còn chỗ khám tai mũi họng không", "book", {"specialty": "ent", "day": D(1), "part": "evening"}),
    ("khám răng thứ 3 tuần sau lúc 9h", "book", {"specialty": "dental", "day": D(6), "time": time(9)}),
    ("15/12 khám mắt", "book", {"specialty": "eye", "day": date(2026, 12, 15)}),
    ("ngày 20 khám nhi", "book", {"specialty": "pediatrics", "day": date(2026, 12, 20)}),
    ("tôi muốn khám tổng quát chiều nay", "book", {"specialty": "internal", "day": D(0), "part": "afternoon"}),
    ("đặt lịch siêu âm thai chủ nhật", "book", {"specialty": "obgyn", "day": D(4)}),
    ("Tôi cần xét nghiệm máu sáng thứ hai", "book", {"specialty": "lab", "day": D(5), "part": "morning"}),
    ("đăng ký khám tim mạch tuần sau", "book", {"specialty": "cardiology", "week": NEXT_WEEK}),
    ("đặt lịch cạo vôi răng lúc 14:30 ngày 10/12", "book",
     {"specialty": "dental", "day": date(2026, 12, 10), "time": time(14, 30)}),
    ("da liễu sáng mai", "book", {"specialty": "dermatology", "day": D(1), "part": "morning"}),
    ("Khám phụ khoa ngày 01/01", "book", {"specialty": "obgyn", "day": date(2027, 1, 1)}),
    ("tôi muốn khám sức khỏe tổng quát", "book", {"specialty": "checkup"}),
    ("đặt lịch hôm nay", "book", {"day": D(0)}),
    ("còn chỗ trống nào cho bé khám nhi không", "book", {"specialty": "pediatrics"}),
    ("con tôi bị viêm họng, khám được không", "book", {"specialty": "ent"}),
    ("đặt khám mụn thứ bảy", "book", {"specialty": "dermatology", "day": D(3)}),
    # --- book, Vietnamese without diacritics
    ("dat lich kham da lieu sang mai", "book", {"specialty": "dermatology", "day": D(1), "part": "morning"}),
    ("toi muon dat lich kham rang chieu thu 6", "book", {"specialty": "dental", "day": D(2), "part": "afternoon"}),
    ("toi muon dat lich", "book", {}),
    ("dat hen kham nhi thu 3 tuan sau", "book", {"specialty": "pediatrics", "day": D(6)}),
    ("kham tai mui hong toi mai", "book", {"specialty": "ent", "day": D(1), "part": "evening"}),
    ("dat lich sieu am sang thu 5", "book", {"specialty": "imaging", "day": D(1), "part": "morning"}),
    ("kham mat ngay 15/12", "book", {"specialty": "eye", "day": date(2026, 12, 15)}),
    ("dat lich kham noi tong quat tuan toi", "book", {"specialty": "internal", "week": NEXT_WEEK}),
    ("kham da lieu chu nhat tuan sau buoi sang", "book",
     {"specialty": "dermatology", "day": D(11), "part": "morning"}),
    ("dat lich kham nha khoa luc 9 gio sang mai", "book",
     {"specialty": "dental", "day": D(1), "part": "morning", "time": time(9)}),
    # --- book, English
    ("book a dentist next Tuesday afternoon", "book", {"specialty": "dental", "day": D(6), "part": "afternoon"}),
    ("I'd like to see a dermatologist tomorrow morning", "book",
     {"specialty": "dermatology", "day": D(1), "part": "morning"}),
    ("Can I book a pediatrician on Friday?", "book", {"specialty": "pediatrics", "day": D(2)}),
    ("appointment for an ENT doctor this afternoon", "book", {"specialty": "ent", "day": D(0), "part": "afternoon"}),
    ("book a blood test on 15/12 at 8am", "book", {"specialty": "lab", "day": date(2026, 12, 15), "time": time(8)}),
    ("I need an ultrasound next week", "book", {"specialty": "imaging", "week": NEXT_WEEK}),
    ("book a general check up for the day after tomorrow", "book", {"specialty": "internal", "day": D(2)}),
    ("skin doctor today at 2 pm", "book", {"specialty": "dermatology", "day": D(0), "time": time(14)}),
    ("I want to make an appointment", "book", {}),
    ("any free slots for an eye exam on Monday evening?", "book", {"specialty": "eye", "day": D(5),
                                                                    "part": "evening"}),
    # --- cancel
    ("tôi muốn hủy lịch hẹn", "cancel", {}),
    ("toi muon huy lich hen", "cancel", {}),
    ("Huỷ lịch khám ngày mai giúp tôi", "cancel", {"day": D(1)}),
    ("mai tôi không đến được", "cancel", {"day": D(1)}),
    ("cancel my appointment", "cancel", {}),
    ("Please cancel my dentist appointment on Friday", "cancel", {"specialty": "dental", "day": D(2)}),
    # --- move
    ("đổi lịch sang thứ 5", "move", {"day": D(1)}),
    ("doi lich sang thu 5 tuan sau", "move", {"day": D(8)}),
    ("tôi muốn dời lịch hẹn sang sáng thứ hai", "move", {"day": D(5), "part": "morning"}),
    ("chuyển lịch khám sang chiều mai được không", "move", {"day": D(1), "part": "afternoon"}),
    ("move my appointment to friday", "move", {"day": D(2)}),
    ("Can I reschedule to next Monday morning?", "move", {"day": D(5), "part": "morning"}),
    ("change my appointment to another day", "move", {}),
    # --- my appointments
    ("lịch hẹn của tôi", "mine", {}),
    ("what are my appointments", "mine", {}),
    # --- opening hours
    ("phòng khám mở cửa mấy giờ", "hours", {}),
    ("phong kham mo cua may gio", "hours", {}),
    ("chủ nhật có làm việc không?", "hours", {"day": D(4)}),
    ("What are your opening hours?", "hours", {}),
    ("are you open on sunday?", "hours", {"day": D(4)}),
    ("mấy giờ đóng cửa", "hours", {}),
    # --- prices
    ("giá khám nhi bao nhiêu", "price", {"specialty": "pediatrics"}),
    ("gia kham da lieu bao nhieu tien", "price", {"specialty": "dermatology"}),
    ("nhổ răng khôn hết bao nhiêu tiền?", "price", {"specialty": "dental"}),
    ("how much is a skin consultation", "price", {"specialty": "dermatology"}),
    ("What does an ultrasound cost?", "price", {"specialty": "imaging"}),
    ("bảng giá", "price", {}),
    # --- a doctor's next free time
    ("bác sĩ Bình khi nào rảnh", "next_free", {"doctor": "binh"}),
    ("bac si binh khi nao ranh", "next_free", {"doctor": "binh"}),
    ("When is Dr. Binh free?", "next_free", {"doctor": "binh"}),
    ("bs Trần Thị Bình còn lịch trống thứ 6 không", "next_free", {"doctor": "tran thi binh", "day": D(2)}),
    ("Dr Nguyen's next available time", "next_free", {"doctor": "nguyen"}),
    ("bác sĩ Hùng thứ 7 có làm việc không", "next_free", {"doctor": "hung", "day": D(3)}),
    # --- a person
    ("gặp nhân viên", "human", {}),
    ("gap nhan vien", "human", {}),
    ("cho tôi nói chuyện với người thật", "human", {}),
    ("talk to a person", "human", {}),
    ("I want to speak to someone at reception", "human", {}),
    # --- greetings and the rest
    ("xin chào", "greeting", {}),
    ("chao ban", "greeting", {}),
    ("Hello!", "greeting", {}),
    ("cảm ơn nhé", "thanks", {}),
    ("ok thanks!", "thanks", {}),
    ("asdkjh qwe", "unknown", {}),
    ("tôi bị đau bụng", "unknown", {}),
    ("what's the weather like", "unknown", {}),
    ("", "unknown", {}),
]


@pytest.mark.parametrize(("text", "intent", "slots"), PHRASES, ids=[p[0] or "(empty)" for p in PHRASES])
def test_phrase(text, intent, slots):
    understood = understand(text, "vi", TODAY)
    assert (understood.name, understood.slots) == (intent, slots)


def test_the_table_has_sixty_phrases_in_both_languages():
    assert len(PHRASES) >= 60
    accented = [p for p in PHRASES if fold(p[0]) != p[0].lower()]
    assert len(accented) >= 25 and len(PHRASES) - len(accented) >= 25


@pytest.mark.parametrize(("typed", "plain"), [
    ("Đặt lịch khám da liễu sáng mai", "dat lich kham da lieu sang mai"),
    ("Tôi muốn đổi lịch sang chiều thứ năm tuần sau", "toi muon doi lich sang chieu thu nam tuan sau"),
    ("Giá khám răng bao nhiêu?", "gia kham rang bao nhieu?"),
])
def test_with_and_without_diacritics_read_the_same(typed, plain):
    assert understand(typed, "vi", TODAY) == understand(plain, "en", TODAY)


def test_the_ambiguous_words_follow_the_diacritics_when_typed():
    assert understand("tôi muốn khám răng", "vi", TODAY).slots == {"specialty": "dental"}  # "tôi": I
    assert understand("khám răng buổi tối", "vi", TODAY).slots == {"specialty": "dental", "part": "evening"}
    assert understand("dời sang thứ 5", "vi", TODAY).slots == {"day": D(1)}  # "sang": to, not morning
    assert understand("khám răng sáng thứ 5", "vi", TODAY).slots == {"specialty": "dental", "day": D(1),
                                                                     "part": "morning"}


# --- with the clinic's names ---------------------------------------------------------------------------


def _names() -> Names:
    def service(id_, name, department, doctors, minutes=20):
        return ServiceName(id=id_, name=name, words=tuple(fold(name).split()), department_id=len(department),
                           department=department, department_words=tuple(fold(department).split()),
                           typed_words=tuple(name.lower().split()), department_typed=tuple(department.lower().split()),
                           price=Decimal(200000), duration_minutes=minutes, doctor_ids=doctors)

    def doctor(id_, name, specialty, department, services):
        return DoctorName(id=id_, label=f"BS. {name}", words=tuple(fold(name).split()),
                          specialty_words=tuple(fold(specialty).split()),
                          department_words=tuple(fold(department).split()),
                          specialty_typed=tuple(specialty.lower().split()), service_ids=services)

    return Names(
        services=(service(1, "Khám nội tổng quát", "Nội tổng quát", (1, 2)),
                  service(2, "Khám răng miệng", "Răng Hàm Mặt", (3,), 15),
                  service(3, "Cạo vôi răng và đánh bóng", "Răng Hàm Mặt", (3,), 30),
                  service(4, "Khám da liễu", "Da liễu", (4,)),
                  service(5, "Siêu âm ổ bụng tổng quát", "Chẩn đoán hình ảnh", (5,)),
                  service(6, "Siêu âm thai 4D", "Sản phụ khoa", (6,), 30)),
        doctors=(doctor(1, "Lê Văn Huy", "Nội khoa", "Nội tổng quát", (1,)),
                 doctor(2, "Phạm Thị Mai", "Tim mạch", "Nội tổng quát", (1,)),
                 doctor(3, "Trần Văn Bình", "Răng hàm mặt", "Răng Hàm Mặt", (2, 3)),
                 doctor(4, "Nguyễn Thị Bình", "Da liễu", "Da liễu", (4,)),
                 doctor(5, "Đỗ Minh Tâm", "Chẩn đoán hình ảnh", "Chẩn đoán hình ảnh", (5,)),
                 doctor(6, "Võ Thị Lan", "Sản phụ khoa", "Sản phụ khoa", (6,))),
    )


@pytest.mark.parametrize(("text", "intent", "slots"), [
    # a doctor's name that is also a word: "Huy" (hủy, cancel), "Mai" (tomorrow)
    ("bác sĩ Huy khi nào rảnh", "next_free", {"doctor": "huy", "doctor_ids": [1]}),
    ("bac si Mai con lich trong thu 6 khong", "next_free", {"doctor": "mai", "doctor_ids": [2], "day": D(2)}),
    ("bác sĩ Bình", "next_free", {"doctor": "binh", "doctor_ids": [3, 4]}),
    ("Dr Tran Van Binh next free time", "next_free", {"doctor": "tran van binh", "doctor_ids": [3]}),
    # the specialty's consultation, the service named, the department's other services
    ("khám răng sáng mai", "book", {"specialty": "dental", "service_id": 2, "day": D(1), "part": "morning"}),
    ("đặt lịch cạo vôi răng", "book", {"specialty": "dental", "service_id": 3}),
    ("skin doctor tomorrow", "book", {"specialty": "dermatology", "service_id": 4, "day": D(1)}),
    ("siêu âm thai thứ 5", "book", {"specialty": "obgyn", "service_id": 6, "day": D(1)}),
    ("đặt lịch siêu âm", "book", {"specialty": "imaging", "service_id": 5}),
    ("khám da liễu với bác sĩ Bình", "book", {"service_id": 4, "doctor": "binh", "doctor_ids": [3, 4]}),
    # a specialty only some doctors have: their consultation, with them
    ("khám tim mạch tuần sau", "book", {"specialty": "cardiology", "service_id": 1, "specialists": [2],
                                        "week": NEXT_WEEK}),
    # a specialty the clinic does not have
    ("khám mắt ngày mai", "book", {"specialty": "eye", "day": D(1)}),
    ("giá khám da liễu", "price", {"service_id": 4}),
])
def test_phrase_with_the_clinics_names(text, intent, slots):
    understood = understand(text, "vi", TODAY, _names())
    assert (understood.name, understood.slots) == (intent, slots)


# --- the demo clinic's catalogue (app/services/demo_data/clinic.py) ---------------------------------


def _demo_names() -> Names:
    from app.services.demo_data.clinic import DEPARTMENTS, DOCTORS, GENERAL_CONSULTATION, SERVICES

    department_of = {code: name for code, name, *_rest in DEPARTMENTS}
    services = []
    for sid, (code, name, dept, price, minutes, *_rest) in enumerate(SERVICES, start=1):
        doctors = tuple(did for did, row in enumerate(DOCTORS, start=1)
                        if row[0] == dept or code == GENERAL_CONSULTATION)
        services.append(ServiceName(
            id=sid, name=name, words=name_words(name), department_id=list(department_of).index(dept) + 1,
            department=department_of[dept], department_words=name_words(department_of[dept]),
            typed_words=name_typed(name), department_typed=name_typed(department_of[dept]),
            price=Decimal(price), duration_minutes=minutes, doctor_ids=doctors))
    doctors = [DoctorName(id=did, label=f"BS. {did}", words=("bac", "si", str(did)),
                          specialty_words=tuple(fold(row[1]).split()),
                          department_words=tuple(fold(department_of[row[0]]).split()),
                          specialty_typed=tuple(row[1].lower().split()),
                          service_ids=tuple(s.id for s in services if did in s.doctor_ids))
               for did, row in enumerate(DOCTORS, start=1)]
    return Names(services=tuple(services), doctors=tuple(doctors))


@pytest.mark.parametrize(("text", "service", "specialists"), [
    ("đặt lịch khám da liễu sáng mai", "Khám da liễu", None),
    ("book a dermatologist", "Khám da liễu", None),
    ("khám răng", "Khám răng miệng", None),
    ("book a dentist next Tuesday afternoon", "Khám răng miệng", None),
    ("cạo vôi răng", "Cạo vôi răng và đánh bóng", None),
    ("nho rang khon", "Nhổ răng khôn", None),
    ("khám nhi", "Khám nhi", None),
    ("pediatrician", "Khám nhi", None),
    ("tai mũi họng", "Khám tai mũi họng", None),
    ("ENT doctor", "Khám tai mũi họng", None),
    ("nội soi tai mũi họng", "Nội soi tai mũi họng", None),
    ("khám phụ khoa", "Khám phụ khoa", None),
    ("siêu âm thai", "Siêu âm thai 4D", None),
    ("sieu am", "Siêu âm ổ bụng tổng quát", None),
    ("x-ray", "Chụp X-quang ngực thẳng", None),
    ("blood test", "Gói xét nghiệm máu tổng quát", None),
    ("khám tổng quát", "Khám nội tổng quát", None),
    ("health check", "Gói khám sức khỏe tổng quát", None),
    ("tư vấn dinh dưỡng", "Tư vấn dinh dưỡng trẻ em", None),
    ("khám tim mạch", "Khám nội tổng quát", [2]),  # the cardiologist among the internists
])
def test_the_demo_catalogue_books_the_service_a_patient_means(text, service, specialists):
    names = _demo_names()
    slots = understand(text, "vi", TODAY, names).slots
    assert names.service(slots.get("service_id")) is not None, slots
    assert names.service(slots["service_id"]).name == service
    assert slots.get("specialists") == specialists


def test_the_demo_catalogue_has_no_eye_doctor():
    slots = understand("khám mắt", "vi", TODAY, _demo_names()).slots
    assert slots == {"specialty": "eye"}
