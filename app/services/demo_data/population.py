"""Who the demo patients are and how they behave: Vietnamese names with their frequencies, phone
and citizen-id prefixes, allergies, booking channels, payment methods, cancellations, reviews."""
from __future__ import annotations

SURNAMES = (  # share of the population, in tenths of a percent
    ("Nguyễn", 380), ("Trần", 110), ("Lê", 95), ("Phạm", 70), ("Hoàng", 41), ("Huỳnh", 30), ("Phan", 45),
    ("Vũ", 25), ("Võ", 25), ("Đặng", 21), ("Bùi", 20), ("Đỗ", 14), ("Hồ", 13), ("Ngô", 13), ("Dương", 10),
    ("Lý", 5), ("Đào", 6), ("Đinh", 6), ("Trương", 8), ("Lâm", 5), ("Mai", 5), ("Cao", 4), ("Hà", 4),
    ("Lương", 3), ("Lưu", 3), ("Tạ", 2), ("Tô", 2), ("Châu", 2), ("Thái", 2), ("Quách", 1), ("Kiều", 1),
)
MIDDLE_MALE = (("Văn", 30), ("Đức", 8), ("Minh", 10), ("Quang", 6), ("Hữu", 6), ("Thành", 4), ("Công", 4),
               ("Quốc", 5), ("Tuấn", 3), ("Hoàng", 4), ("Xuân", 3), ("Thanh", 4), ("Gia", 4), ("Anh", 3),
               ("Bảo", 3), ("Đình", 4), ("Trọng", 3), ("Tấn", 2), ("Thế", 3), ("Nhật", 2), ("Phúc", 2))
MIDDLE_FEMALE = (("Thị", 35), ("Ngọc", 8), ("Thu", 5), ("Thanh", 5), ("Minh", 4), ("Kim", 4), ("Bảo", 3),
                 ("Hoài", 2), ("Phương", 3), ("Mai", 3), ("Khánh", 3), ("Diệu", 2), ("Thùy", 4), ("Hồng", 3),
                 ("Mỹ", 3), ("Gia", 2), ("Quỳnh", 2), ("Như", 3), ("Bích", 2), ("Hải", 2))
GIVEN_MALE = ("An", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Đức", "Hải", "Hiếu", "Hùng", "Huy", "Hưng",
              "Khang", "Khánh", "Khoa", "Kiên", "Kiệt", "Lâm", "Long", "Lộc", "Luân", "Minh", "Nam", "Nghĩa",
              "Nhân", "Phát", "Phong", "Phúc", "Phước", "Quân", "Quang", "Sơn", "Tài", "Tâm", "Tân", "Thái",
              "Thắng", "Thành", "Thiện", "Thịnh", "Tiến", "Toàn", "Trí", "Trung", "Tuấn", "Tùng", "Việt", "Vinh",
              "Hào", "Hậu", "Hiệp", "Định", "Hòa", "Đông", "Khôi", "Vĩnh")
GIVEN_FEMALE = ("An", "Anh", "Ánh", "Bích", "Châu", "Chi", "Diệp", "Dung", "Duyên", "Giang", "Hà", "Hạnh",
                "Hằng", "Hân", "Hiền", "Hoa", "Hồng", "Huệ", "Hương", "Khánh", "Khuê", "Lan", "Liên", "Linh",
                "Loan", "Ly", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhi", "Nhung", "Oanh", "Phương", "Quyên",
                "Quỳnh", "Tâm", "Thảo", "Thanh", "Thu", "Thủy", "Trang", "Trâm", "Trinh", "Tuyết", "Uyên", "Vân",
                "Vy", "Xuân", "Yến", "Hiền", "Thư", "Trúc", "Diễm")
MOBILE_PREFIXES = ("32", "33", "34", "35", "36", "37", "38", "39", "70", "76", "77", "78", "79", "81", "82",
                   "83", "84", "85", "86", "88", "89", "90", "91", "93", "94", "96", "97", "98", "56", "58", "59")
CCCD_PROVINCES = (("079", 60), ("001", 6), ("075", 5), ("074", 5), ("080", 3), ("072", 3), ("092", 3),
                  ("048", 2), ("038", 2), ("040", 2), ("052", 2), ("086", 2), ("087", 2), ("083", 2), ("096", 1))
ALLERGIES = ("Penicillin", "Amoxicillin", "Aspirin", "Sulfamid", "Hải sản (tôm, cua)", "Đậu phộng",
             "Phấn hoa", "Bụi nhà", "Ibuprofen", "Thuốc cản quang iod", "Sữa bò", "Trứng")
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")  # reserved: demo mail never reaches anyone
CANCEL_REASONS = ("Bệnh nhân bận việc đột xuất", "Bệnh nhân xin đổi sang ngày khác", "Bệnh nhân đã đỡ bệnh",
                  "Đặt trùng lịch", "Thời tiết xấu, không đến được", "Bệnh nhân đi công tác")
REVIEW_COMMENTS = {
    5: ("Bác sĩ tận tâm, giải thích rõ ràng, dễ hiểu.", "Phòng khám sạch sẽ, nhân viên thân thiện.",
        "Khám nhanh, không phải chờ lâu. Rất hài lòng.", "Bác sĩ khám kỹ, hướng dẫn dùng thuốc chi tiết.",
        "Sẽ quay lại và giới thiệu cho người thân.", None),
    4: ("Bác sĩ giỏi nhưng phải chờ hơi lâu.", "Dịch vụ tốt, giá hợp lý.", "Nhân viên lễ tân nhiệt tình.", None),
    3: ("Thời gian chờ khá lâu dù đã đặt lịch trước.", "Bác sĩ khám hơi nhanh, chưa giải thích kỹ.", None),
    2: ("Chờ hơn một tiếng mới được khám.", "Giá thuốc hơi cao so với nơi khác."),
    1: ("Không hài lòng với cách tư vấn.", "Đặt lịch online nhưng đến nơi vẫn phải chờ rất lâu."),
}
# Why a manager hid a review (told to its author), and the doctors' public replies.
REVIEW_HIDDEN_REASONS = ("Bình luận có thông tin cá nhân của người khác.", "Ngôn từ không phù hợp.",
                         "Nội dung không liên quan đến lần khám.")
REVIEW_REPLIES = ("Cảm ơn anh/chị đã tin tưởng phòng khám. Chúc anh/chị mau khỏe!",
                  "Cảm ơn góp ý của anh/chị, phòng khám sẽ cải thiện thời gian chờ.",
                  "Rất vui được đồng hành cùng anh/chị. Hẹn gặp lại ở lần tái khám.")
CHANNEL_WEIGHTS = (("walk_in", 35), ("phone", 28), ("online", 32), ("chat", 5))
PAYMENT_METHODS = (("cash", 50), ("bank_transfer", 30), ("card", 10), ("vnpay", 10))
