"""Words of the app's own chrome (buttons, titles), Vietnamese first, English second.

Form labels, code names and error messages are not here: they come from
``schemas/`` (forms, code lists, the error catalogue) like on the server.
"""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "app_title": ("Sổ A0 điện tử", "Electronic A0 register"),
    "enrol_title": ("Đăng ký máy", "Enrol this device"),
    "server": ("Địa chỉ máy chủ", "Server address"),
    "code": ("Mã đăng ký (xã cấp)", "Enrolment code (from the commune)"),
    "pin": ("Mã PIN (6–12 chữ số)", "PIN (6–12 digits)"),
    "pin_again": ("Nhập lại mã PIN", "PIN again"),
    "enrol": ("Đăng ký", "Enrol"),
    "scan": ("Quét mã QR", "Scan QR code"),
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
    "working": ("Đang xử lý…", "Working…"),
    "unlock_title": ("Mở khoá", "Unlock"),
    "unlock": ("Mở", "Open"),
    "search": ("Tìm hộ, tên người…", "Search household, name…"),
    "new_household": ("+ Hộ mới", "+ New household"),
    "sync": ("Đồng bộ", "Sync"),
    "households_count": ("{n} hộ", "{n} households"),
    "back": ("‹ Quay lại", "‹ Back"),
    "household_no": ("Hộ số {n}", "Household no. {n}"),
    "edit_household": ("Sửa hộ", "Edit household"),
    "add_member": ("+ Thành viên", "+ Member"),
    "distribution": ("Phát phương tiện tránh thai", "Hand out contraceptives"),
    "members": ("Thành viên", "Members"),
    "edit_member": ("Sửa thông tin", "Edit details"),
    "woman_status": ("Tình trạng BPTT", "Contraceptive status"),
    "record_event": ("Ghi biến động", "Record a change"),
    "save": ("Lưu", "Save"),
    "cancel": ("Huỷ", "Cancel"),
    "fix_errors": ("Vui lòng sửa các ô được đánh dấu", "Please fix the marked fields"),
    "saved": ("Đã lưu trên máy", "Saved on this device"),
    "sync_title": ("Đồng bộ dữ liệu", "Data sync"),
    "sync_now": ("Đồng bộ ngay", "Sync now"),
    "export": ("Xuất tệp mang tay", "Export file to carry"),
    "exported": ("Đã xuất tệp: {path}", "File written: {path}"),
    "nothing_to_export": ("Không có thay đổi nào chưa gửi", "Nothing unsent"),
    "offline": ("Chưa có mạng — dữ liệu vẫn an toàn trên máy, sẽ gửi sau",
                "No connection — data is safe on the device and will be sent later"),
    "sync_done": ("Đã gửi {sent} thay đổi, nhận {pulled} cập nhật",
                  "Sent {sent} changes, received {pulled} updates"),
    "state_counts": ("Chưa gửi: {pending} · Đã gửi: {sent} · Máy chủ chờ: {waiting} · "
                     "Bị từ chối: {rejected} · Đã nhận: {applied}",
                     "Pending: {pending} · Sent: {sent} · Waiting: {waiting} · "
                     "Rejected: {rejected} · Applied: {applied}"),
    "notices": ("Thông báo", "Notices"),
    "changes": ("Các thay đổi đã ghi", "Recorded changes"),
    "none_option": ("— không chọn —", "— none —"),
    "lang": ("EN", "VI"),
    "lock": ("Khoá", "Lock"),
}


def tr(key: str, lang: str = "vi", **params: object) -> str:
    vi, en = TEXTS[key]
    return (vi if lang == "vi" else en).format(**params)
