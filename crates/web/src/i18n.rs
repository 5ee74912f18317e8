//! The interface language: Vietnamese first, English second. Chosen per request
//! (`?lang=en` sets a cookie), never process-wide.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
    pub fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }
    pub fn from_request(query: Option<&str>, cookie: Option<&str>) -> Lang {
        let pick = |s: &str| match s {
            "en" => Some(Lang::En),
            "vi" => Some(Lang::Vi),
            _ => None,
        };
        let from_query = query.and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .and_then(|(_, v)| pick(&v))
        });
        let from_cookie = cookie.and_then(|c| {
            c.split(';')
                .filter_map(|kv| kv.trim().strip_prefix("lang="))
                .find_map(pick)
        });
        from_query.or(from_cookie).unwrap_or(Lang::Vi)
    }
}

/// Every string of the interface, in one language.
pub struct Text {
    pub app_name: &'static str,
    pub app_short: &'static str,
    pub home: &'static str,
    pub units: &'static str,
    pub indicators: &'static str,
    /// Reporting forms (the /bieu-mau page).
    pub forms: &'static str,
    pub analysis: &'static str,
    pub reports: &'static str,
    pub dashboard: &'static str,
    pub validation: &'static str,
    pub map: &'static str,
    pub ethnic_groups: &'static str,
    pub search: &'static str,
    pub search_placeholder: &'static str,
    pub switch_lang: &'static str,
    pub provinces_now: &'static str,
    pub provinces_before: &'static str,
    pub demo_province: &'static str,
    pub demo_note: &'static str,
    pub code: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub hierarchy: &'static str,
    pub hierarchy_2024: &'static str,
    pub hierarchy_2025: &'static str,
    pub valid: &'static str,
    pub children: &'static str,
    pub no_children: &'static str,
    pub became: &'static str,
    pub map_of_unit: &'static str,
    pub came_from: &'static str,
    pub whole: &'static str,
    pub part: &'static str,
    pub share: &'static str,
    pub estimated: &'static str,
    pub data: &'static str,
    pub no_data: &'static str,
    pub indicator: &'static str,
    pub period: &'static str,
    pub breakdown: &'static str,
    pub value: &'static str,
    pub source: &'static str,
    pub demo_value: &'static str,
    pub results: &'static str,
    pub no_results: &'static str,
    pub unit_of_measure: &'static str,
    pub aggregation: &'static str,
    pub formula: &'static str,
    pub code_1979: &'static str,
    pub code_2008: &'static str,
    pub other_names: &'static str,
    pub population_2019: &'static str,
    pub not_found: &'static str,
    pub api_docs: &'static str,
    pub more_values: &'static str,
    pub footer: &'static str,
    pub login: &'static str,
    pub logout: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub new_password: &'static str,
    pub users: &'static str,
    pub create_user: &'static str,
    pub full_name: &'static str,
    pub role: &'static str,
    pub scopes: &'static str,
    pub phone: &'static str,
    pub email: &'static str,
    pub active: &'static str,
    pub save: &'static str,
    pub demo_accounts: &'static str,
    pub login_failed: &'static str,
    pub forbidden: &'static str,
    pub saved: &'static str,
    pub locked: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub logged_in_as: &'static str,
    pub approvals: &'static str,
    pub progress: &'static str,
}

const VI: Text = Text {
    app_name: "Hệ thống thông tin dữ liệu công tác dân tộc",
    app_short: "Dữ liệu công tác dân tộc",
    home: "Trang chủ",
    units: "Đơn vị hành chính",
    indicators: "Chỉ tiêu",
    forms: "Biểu mẫu",
    analysis: "Phân tích",
    reports: "Báo cáo",
    dashboard: "Bảng điều khiển",
    validation: "Kiểm tra số liệu",
    map: "Bản đồ",
    ethnic_groups: "Dân tộc",
    search: "Tìm",
    search_placeholder: "Tìm đơn vị, ví dụ: dong ngu",
    switch_lang: "English",
    provinces_now: "Tỉnh, thành phố (từ 1/7/2025)",
    provinces_before: "Tỉnh, thành phố trước 1/7/2025",
    demo_province: "tỉnh mẫu",
    demo_note: "Số liệu đánh dấu «minh họa» được sinh tự động để trình diễn; số liệu có nguồn là số liệu công bố.",
    code: "Mã",
    name: "Tên",
    kind: "Cấp",
    hierarchy: "Hệ thống đơn vị",
    hierarchy_2024: "trước 1/7/2025",
    hierarchy_2025: "từ 1/7/2025",
    valid: "Hiệu lực",
    children: "Đơn vị trực thuộc",
    no_children: "Không có đơn vị trực thuộc.",
    became: "Sau sắp xếp (1/7/2025) thuộc",
    map_of_unit: "Xem trên bản đồ",
    came_from: "Hình thành từ",
    whole: "toàn bộ",
    part: "một phần",
    share: "tỷ trọng",
    estimated: "ước tính (chia đều)",
    data: "Số liệu",
    no_data: "Chưa có số liệu.",
    indicator: "Chỉ tiêu",
    period: "Kỳ",
    breakdown: "Phân tổ",
    value: "Giá trị",
    source: "Nguồn",
    demo_value: "minh họa",
    results: "Kết quả tìm kiếm",
    no_results: "Không tìm thấy kết quả.",
    unit_of_measure: "Đơn vị tính",
    aggregation: "Cách tổng hợp",
    formula: "Công thức",
    code_1979: "Mã (QĐ 121, 1979)",
    code_2008: "Mã (QĐ 1019, 2008)",
    other_names: "Tên gọi khác",
    population_2019: "Dân số 2019",
    not_found: "Không tìm thấy trang hoặc đơn vị.",
    api_docs: "API (OpenAPI)",
    more_values: "Chỉ hiện 300 giá trị đầu tiên; dùng API hoặc tệp CSV để xem đầy đủ.",
    footer: "dantoc — phần mềm nguồn mở",
    login: "Đăng nhập",
    logout: "Đăng xuất",
    username: "Tên đăng nhập",
    password: "Mật khẩu",
    new_password: "Mật khẩu mới (để trống nếu không đổi)",
    users: "Người dùng",
    create_user: "Tạo người dùng",
    full_name: "Họ và tên",
    role: "Vai trò",
    scopes: "Đơn vị phụ trách (mã, cách nhau bởi dấu phẩy; CODE@2024 cho đơn vị cũ)",
    phone: "Số điện thoại",
    email: "Thư điện tử",
    active: "Đang hoạt động",
    save: "Lưu",
    demo_accounts: "Tài khoản dùng thử (chỉ khi máy chủ chạy trên máy này)",
    login_failed: "Đăng nhập không thành công",
    forbidden: "Bạn không có quyền xem trang này.",
    saved: "Đã lưu.",
    locked: "Tạm khóa",
    yes: "Có",
    no: "Không",
    logged_in_as: "Đăng nhập:",
    approvals: "Phê duyệt",
    progress: "Tiến độ báo cáo",
};

const EN: Text = Text {
    app_name: "Ethnic-affairs information and data system",
    app_short: "Ethnic-affairs data",
    home: "Home",
    units: "Administrative units",
    indicators: "Indicators",
    forms: "Forms",
    analysis: "Analysis",
    reports: "Report tables",
    dashboard: "Dashboard",
    validation: "Validation",
    map: "Map",
    ethnic_groups: "Ethnic groups",
    search: "Search",
    search_placeholder: "Find a unit, e.g. dong ngu",
    switch_lang: "Tiếng Việt",
    provinces_now: "Provinces (from 1 July 2025)",
    provinces_before: "Provinces before 1 July 2025",
    demo_province: "demo province",
    demo_note: "Values marked “demo” are generated for demonstration; values with a source are published figures.",
    code: "Code",
    name: "Name",
    kind: "Level",
    hierarchy: "Hierarchy",
    hierarchy_2024: "before 1 July 2025",
    hierarchy_2025: "from 1 July 2025",
    valid: "Valid",
    children: "Units below",
    no_children: "No units below.",
    became: "After the 1 July 2025 reform, part of",
    map_of_unit: "See on the map",
    came_from: "Formed from",
    whole: "whole",
    part: "part",
    share: "share",
    estimated: "estimated (equal shares)",
    data: "Data",
    no_data: "No data yet.",
    indicator: "Indicator",
    period: "Period",
    breakdown: "Breakdown",
    value: "Value",
    source: "Source",
    demo_value: "demo",
    results: "Search results",
    no_results: "Nothing found.",
    unit_of_measure: "Unit",
    aggregation: "Aggregation",
    formula: "Formula",
    code_1979: "Code (1979 list)",
    code_2008: "Code (2008 list)",
    other_names: "Other names",
    population_2019: "Population 2019",
    not_found: "Page or unit not found.",
    api_docs: "API (OpenAPI)",
    more_values: "Only the first 300 values are shown; use the API or CSV for all.",
    footer: "dantoc — open-source software",
    login: "Log in",
    logout: "Log out",
    username: "User name",
    password: "Password",
    new_password: "New password (leave empty to keep)",
    users: "Users",
    create_user: "Create a user",
    full_name: "Full name",
    role: "Role",
    scopes: "Units (codes, comma-separated; CODE@2024 for a pre-2025 unit)",
    phone: "Phone",
    email: "Email",
    active: "Active",
    save: "Save",
    demo_accounts: "Demo accounts (only while the server runs on this machine)",
    login_failed: "Login failed",
    forbidden: "You may not see this page.",
    saved: "Saved.",
    locked: "Locked",
    yes: "Yes",
    no: "No",
    logged_in_as: "Logged in:",
    approvals: "Approvals",
    progress: "Reporting progress",
};

pub fn text(l: Lang) -> &'static Text {
    match l {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

/// A number the Vietnamese way (`162.531`, `12,31`) or the English way (`162,531`, `12.31`).
pub fn number(n: f64, l: Lang) -> String {
    dantoc_domain::value::format_number(n, l == Lang::Vi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_both_languages() {
        assert_eq!(number(162531.0, Lang::Vi), "162.531");
        assert_eq!(number(12.31, Lang::Vi), "12,31");
        assert_eq!(number(1234567.5, Lang::En), "1,234,567.5");
        assert_eq!(number(-1000.0, Lang::Vi), "-1.000");
        assert_eq!(number(95.0, Lang::Vi), "95");
    }

    #[test]
    fn language_from_query_then_cookie() {
        assert_eq!(Lang::from_request(Some("lang=en"), None), Lang::En);
        assert_eq!(Lang::from_request(None, Some("a=b; lang=en")), Lang::En);
        assert_eq!(
            Lang::from_request(Some("lang=vi"), Some("lang=en")),
            Lang::Vi
        );
        assert_eq!(Lang::from_request(None, None), Lang::Vi);
    }
}
