"""Words of the app's own chrome (buttons, titles, messages), Vietnamese first.

Form labels, code names, error messages and the words for where a change stands
are not here: they come from ``schemas/`` (forms, code lists, the error
catalogue, ``protocol/op_states.json``) like on the server.
"""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    # enrol, scan, unlock
    "enrol_title": ("Đăng ký máy", "Enrol this phone"),
    "server": ("Địa chỉ máy chủ", "Server address"),
    "code": ("Mã đăng ký (xã cấp)", "Enrolment code (from the commune)"),
    "pin": ("Mã PIN (6–12 chữ số)", "PIN (6–12 digits)"),
    "pin_again": ("Nhập lại mã PIN", "PIN again"),
    "enrol": ("Đăng ký", "Enrol"),
    "enrolling": ("Đang đăng ký và tải sổ của địa bàn…",
                  "Enrolling and downloading the area's register…"),
    "enrolled": ("Đã đăng ký máy cho {area}", "This phone is enrolled for {area}"),
    "scan": ("Quét mã QR", "Scan the QR code"),
    "scan_title": ("Quét mã QR đăng ký", "Scan the enrolment QR code"),
    "scan_hint": ("Hướng máy ảnh vào mã QR trên trang đăng ký máy của xã",
                  "Point the camera at the QR code on the commune's enrolment page"),
    "type_instead": ("Nhập mã bằng tay", "Type the code instead"),
    "scanned": ("Đã đọc mã QR. Kiểm tra địa chỉ máy chủ và mã, nhập mã PIN rồi bấm Đăng ký",
                "QR code read. Check the server address and code, choose a PIN, then Enrol"),
    "camera_failed": ("Không mở được máy ảnh; hãy nhập mã bằng tay",
                      "The camera could not be opened; type the code instead"),
    "camera_denied": ("Ứng dụng chưa được phép dùng máy ảnh; hãy nhập mã bằng tay",
                      "The app may not use the camera; type the code instead"),
    "unlock_title": ("Mở khoá", "Unlock"),
    "unlock": ("Mở", "Open"),
    "pin_forgotten": ("Nếu quên mã PIN, đừng tự gỡ ứng dụng hay xoá dữ liệu: hãy mang máy đến "
                      "trạm y tế xã. Cán bộ xã xem những gì máy đã gửi và cấp mã để đăng ký "
                      "lại máy. Dữ liệu trên máy chỉ mở được bằng đúng mã PIN đã đặt; không "
                      "ai lấy lại được mã này.",
                      "If you have forgotten the PIN, do not uninstall the app or clear its "
                      "data yourself: take the phone to the commune health station. Its staff "
                      "see what the phone has sent and give a code to enrol it again. The data "
                      "on the phone opens only with the PIN that was set; no one can recover "
                      "it."),
    # households, members
    "search": ("Tìm hộ, tên người…", "Search household, name…"),
    "new_household": ("Thêm hộ mới", "Add a household"),
    "households_count": ("{n} hộ", "Households: {n}"),
    "no_households": ("Bấm «Thêm hộ mới» để ghi hộ đầu tiên",
                      "Tap «Add a household» to record the first one"),
    "people": ("người", "people"),
    "household_no": ("Hộ số {n}", "Household no. {n}"),
    "stock_on_hand": ("Còn trong túi: {items}", "On hand: {items}"),
    "members": ("Thành viên", "Members"),
    "recent": ("Đã phát gần đây", "Handed out lately"),
    "distribution": ("Phát phương tiện tránh thai", "Hand out contraceptives"),
    "record_birth": ("Ghi trẻ mới sinh", "Record a birth"),
    "add_member": ("Thêm thành viên", "Add a member"),
    "edit_household": ("Sửa thông tin hộ", "Edit the household"),
    "age": ("{n} tuổi", "age {n}"),
    "pregnant": ("Đang mang thai", "Pregnant"),
    "record_event": ("Ghi biến động", "Record a change"),
    "woman_status": ("Tình trạng tránh thai", "Contraceptive status"),
    "edit_member": ("Sửa thông tin người này", "Edit this person"),
    "history": ("Đã ghi", "Recorded"),
    "voided": ("đã huỷ", "withdrawn"),
    "not_found": ("Không còn bản ghi này trên máy", "This record is no longer on the phone"),
    # forms
    "save": ("Lưu", "Save"),
    "cancel": ("Huỷ", "Cancel"),
    "choose": ("Chọn…", "Choose…"),
    "search_list": ("Gõ để tìm", "Type to search"),
    "fix_errors": ("Vui lòng sửa các ô được đánh dấu", "Please fix the marked fields"),
    "saved": ("{state}. Sẽ gửi khi đồng bộ.", "{state}. It goes with the next sync."),
    "nothing_changed": ("Không có gì thay đổi", "Nothing changed"),
    "date_format": ("ngày/tháng/năm", "dd/mm/yyyy"),
    "date_hint": ("Ghi ngày/tháng/năm, ví dụ 03/12/2026, hoặc bấm lịch.",
                  "Write day/month/year, e.g. 03/12/2026, or tap the calendar."),
    "date_or_year_hint": ("Ghi ngày/tháng/năm (ví dụ 03/12/2026) hoặc chỉ năm (ví dụ 1990), "
                          "hoặc bấm lịch.",
                          "Write day/month/year (e.g. 03/12/2026) or the year alone "
                          "(e.g. 1990), or tap the calendar."),
    "month_year": ("Tháng {m:02d}/{y}", "{name} {y}"),
    "today": ("Hôm nay", "Today"),
    "year_only": ("Chỉ biết năm {y}", "Year {y} only"),
    "choose_year": ("Chọn năm", "Choose the year"),
    # sync
    "sync_title": ("Đồng bộ dữ liệu", "Data sync"),
    "sync_now": ("Đồng bộ ngay", "Sync now"),
    "syncing": ("Đang đồng bộ…", "Syncing…"),
    "export": ("Xuất tệp mang tay", "Export a file to carry"),
    "exported": ("Đã xuất tệp: {path}", "File written: {path}"),
    "nothing_to_export": ("Không có thay đổi nào chưa gửi", "Nothing waits to be sent"),
    "offline": ("Không có mạng. Dữ liệu vẫn an toàn trên máy và sẽ gửi khi có mạng.",
                "Offline. The data is safe on the phone and goes when there is a connection."),
    "sync_done": ("Máy chủ đã xác nhận {sent} thay đổi; tải về {pulled} cập nhật",
                  "The server confirmed {sent} changes; {pulled} updates downloaded"),
    "sync_nothing_new": ("Đã đồng bộ xong: không có gì mới để gửi hay tải về",
                         "Synced: nothing new to send or download"),
    "nothing_yet": ("Chưa ghi thay đổi nào trên máy này", "No change recorded on this phone yet"),
    "last_sync": ("Lần đồng bộ gần nhất: {at}", "Last sync: {at}"),
    "notices": ("Thông báo", "Notices"),
    "changes": ("Các thay đổi gần đây ghi trên máy", "Recent changes recorded on this phone"),
    # the top bar's sync state
    "state_offline": ("Không có mạng", "Offline"),
    "state_clock": ("Sai giờ điện thoại", "Phone clock wrong"),
    "state_synced": ("Đã đồng bộ lúc {at}", "Synced at {at}"),
    "state_failed": ("Lần đồng bộ lúc {at} không thành", "The sync at {at} did not go through"),
    "state_never": ("Chưa đồng bộ lần nào", "Not synced yet"),
    # settings
    "settings": ("Cài đặt", "Settings"),
    "language": ("Ngôn ngữ", "Language"),
    "text_size": ("Cỡ chữ", "Text size"),
    "text_large": ("Chữ to", "Large"),
    "text_larger": ("Chữ rất to", "Larger"),
    "text_sample": ("Chữ mẫu: Hộ số 15 · Đỗ Thị Ngọc Ánh · 03/12/2026",
                    "Sample: Household no. 15 · Đỗ Thị Ngọc Ánh · 03/12/2026"),
    "this_phone": ("Máy này", "This phone"),
    "works_for": ("{name} · {area}", "{name} · {area}"),
    "lock": ("Khoá máy (cần mã PIN để mở)", "Lock (the PIN opens it)"),
    # a record kept with something to check (a warning in the server's verdict)
    "check_title": ("Đã lưu — cần kiểm tra", "Saved — please check"),
    "understood": ("Đã hiểu", "Understood"),
    "fixed": ("Đã sửa", "Fixed"),
    "discard_title": ("Bỏ những gì vừa nhập?", "Discard what you entered?"),
    "discard_words": ("Những thông tin vừa nhập trên phiếu này chưa được lưu. Bấm «Tiếp tục "
                      "nhập» rồi «Lưu» để giữ lại.",
                      "What you entered on this form is not saved yet. Tap «Keep editing», "
                      "then «Save», to keep it."),
    "keep_editing": ("Tiếp tục nhập", "Keep editing"),
    "discard": ("Bỏ, không lưu", "Discard, do not save"),
    # the monthly P0 slip, and splitting a household
    "p0": ("Phiếu P0", "P0 slip"),
    "p0_title": ("Phiếu thu tin P0 hằng tháng", "Monthly P0 change slip"),
    "p0_month": ("Tháng {month}: {state}", "{month}: {state}"),
    "p0_entries": ("Số mục đã ghi trong tháng {month}", "Entries recorded in {month}"),
    "p0_closed": ("Đã nộp phiếu P0 tháng {month}. Đồng bộ để gửi lên xã.",
                  "The P0 slip of {month} is closed. Sync to send it to the commune."),
    "p0_done": ("Đã nộp", "Closed"),
    # the collaborator's bag (issue 17)
    "stock": ("Kho phương tiện", "Stock"),
    "stock_title": ("Kho phương tiện tránh thai", "Contraceptive stock"),
    "stock_held": ("Còn trong túi", "On hand"),
    "stock_none": ("Máy chưa theo dõi phương tiện nào. Xác nhận phiếu cấp của trạm y tế "
                   "hoặc ghi phương tiện nhận được thì số tồn sẽ hiện ở đây.",
                   "The phone tracks no contraceptive yet. Confirm an issue from the station "
                   "or record what you received, and the balance shows here."),
    "stock_to_confirm": ("Trạm y tế đã cấp, chờ bạn xác nhận đã nhận",
                         "Issued by the station, waiting for you to confirm receipt"),
    "stock_issued": ("Trạm cấp ngày {day}", "Issued on {day}"),
    "stock_lot": ("lô {lot}", "lot {lot}"),
    "stock_expiry": ("hạn dùng {day}", "expires {day}"),
    "stock_record": ("Ghi phiếu kho", "Record a stock movement"),
    "split": ("Tách hộ", "Split household"),
    "split_title": ("Tách hộ", "Split household"),
    "split_number": ("Số hộ mới", "New household number"),
    "split_date": ("Ngày tách hộ", "Date of the split"),
    "split_hint": ("Chọn những người sang hộ mới; người chọn đầu tiên làm chủ hộ mới",
                   "Choose who goes to the new household; the first one chosen is its head"),
    "privacy_title": ("Dữ liệu được thu thập và vì sao", "What is collected, and why"),
    # Law 91/2025/QH15 and Decree 356/2025: say what is collected, why, and who sees it
    "privacy": ("Ứng dụng ghi thông tin hộ gia đình, nhân khẩu, biến động dân số và việc cấp "
                "phương tiện tránh thai của địa bàn bạn phụ trách, để cập nhật Sổ A0 và báo cáo "
                "dân số của xã (Thông tư 01/2022/TT-BYT). Đây là dữ liệu cá nhân nhạy cảm (Luật "
                "91/2025/QH15): được mã hoá trên máy bằng mã PIN và khi gửi đi; chỉ cán bộ dân "
                "số có thẩm quyền được xem, và mỗi lần xem đều được ghi lại. Người dân có thể đề "
                "nghị xã cho xem hoặc xoá dữ liệu của mình.",
                "The app records the households, people, population changes and contraceptives "
                "handed out in your area, to keep the A0 register and the commune's population "
                "reports (Circular 01/2022/TT-BYT). This is sensitive personal data (Law "
                "91/2025/QH15): encrypted on the phone under your PIN and when sent; only "
                "authorised population staff see it, and every reading is logged. People may "
                "ask the commune to see or erase their data."),
}


def tr(key: str, lang: str = "vi", **params: object) -> str:
    vi, en = TEXTS[key]
    return (vi if lang == "vi" else en).format(**params)
