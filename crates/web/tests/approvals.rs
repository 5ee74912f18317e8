//! The approval workflow and the completeness report over real HTTP, on SQLite and on
//! PostgreSQL: a commune officer submits and cannot approve; a provincial officer approves,
//! returns with a comment, locks and unlocks; values under a submitted, approved or locked form
//! are refused on every write path with a located conflict; completeness counts on time, late
//! and missing units against deadlines in the past and in the future; the pages render and
//! their buttons post with the CSRF token.

mod common;

use common::{Client, PASSWORD, Server, start};
use dantoc_domain::access::Role;
use serde_json::{Value, json};

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::start(dantoc_store::testing::TestDb::sqlite())); } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::start(dantoc_store::testing::TestDb::postgres())); } )*
        }
    };
}

on_both_backends!(
    the_commune_submits_and_the_province_decides,
    writes_are_refused_under_a_submitted_form_on_every_path,
    completeness_counts_on_time_late_and_missing,
    pages_list_and_decide_with_the_csrf_token,
    a_form_that_breaks_an_error_rule_cannot_be_submitted
);

const FORM: &str = "BM-DTTS-02";

fn step(c: &Client, period: &str, action: &str, comment: Option<&str>) -> common::Reply {
    let mut b = json!({"form": FORM, "orgUnit": "06877", "period": period, "action": action});
    if let Some(m) = comment {
        b["comment"] = json!(m);
    }
    c.post_json("/api/approvals", &b)
}

/// Every required cell of BM-DTTS-02 for commune 06877.
fn fill(c: &Client, period: &str) {
    let v = |i: &str, d: &str, x: &str| json!({"indicator": i, "unit": "06877", "period": period, "disaggregation": d, "value": x});
    let r = c.post_json(
        "/api/dataValues",
        &json!({"dataValues": [
            v("x-cnscd-to", "default", "2"), v("x-cnscd-tv", "M", "5"),
            v("x-cnscd-tv", "F", "4"), v("x-thon-noms", "default", "1")
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

fn officers(s: &Server) -> (Client, Client) {
    (
        s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], true),
        s.token_client("can-bo-tinh", Role::ProvinceOfficer, &["22"], true),
    )
}

fn the_commune_submits_and_the_province_decides(s: Server) {
    let (xa, tinh) = officers(&s);
    // nothing filled: the refusal names every required cell
    let r = step(&xa, "2025", "submit", None);
    assert_eq!(r.status, 400, "{}", r.body);
    let j = r.json();
    let missing: Vec<&str> = j["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        missing,
        [
            "x-cnscd-to/default",
            "x-cnscd-tv/M",
            "x-cnscd-tv/F",
            "x-thon-noms/default"
        ]
    );
    fill(&xa, "2025");
    let r = step(&xa, "2025", "submit", None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "submitted");
    assert_eq!(r.json()["submitted_by"], "can-bo-xa (token 2)");
    // the commune cannot approve its own form
    let r = step(&xa, "2025", "approve", None);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.json()["message"].as_str().unwrap().contains("cấp trên"));
    assert_eq!(step(&xa, "2025", "submit", None).status, 409);
    // nor another province's officer, a viewer or someone not logged in
    let other = s.token_client("tinh-khac", Role::ProvinceOfficer, &["04"], true);
    assert_eq!(step(&other, "2025", "approve", None).status, 403);
    let viewer = s.token_client("nguoi-xem", Role::Viewer, &["22"], false);
    assert_eq!(step(&viewer, "2025", "approve", None).status, 403);
    assert_eq!(step(&s.anon, "2025", "approve", None).status, 401);
    let ro = s.token_client("chi-doc", Role::ProvinceOfficer, &["22"], false);
    assert_eq!(
        step(&ro, "2025", "approve", None).status,
        403,
        "read-only token"
    );
    // bad requests say what
    let r = step(&tinh, "2025", "publish", None);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["field"], "action");
    let r = tinh.post_json(
        "/api/approvals",
        &json!({"form": "BM-KHONG", "orgUnit": "06877", "period": "2025", "action": "approve"}),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    let r = tinh.post_json(
        "/api/approvals",
        &json!({"form": FORM, "orgUnit": "06877", "period": "2025", "action": "approve", "x": 1}),
    );
    assert_eq!(r.status, 400, "unknown fields refused: {}", r.body);

    // the province returns with a comment (not without), the commune submits again
    let r = step(&tinh, "2025", "return", None);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["field"], "comment");
    let r = step(&tinh, "2025", "return", Some("Số thành viên nữ chưa khớp"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.json()["state"].clone(), r.json()["comment"].clone()),
        (json!("returned"), json!("Số thành viên nữ chưa khớp"))
    );
    assert_eq!(step(&xa, "2025", "submit", None).status, 200);
    // approve, lock; a locked form is not returned before an unlock
    assert_eq!(
        step(&tinh, "2025", "approve", None).json()["state"],
        "approved"
    );
    assert_eq!(step(&tinh, "2025", "lock", None).json()["state"], "locked");
    let r = step(&tinh, "2025", "return", Some("x"));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.json()["message"].as_str().unwrap().contains("mở khóa"));
    assert_eq!(step(&xa, "2025", "unlock", None).status, 403);
    assert_eq!(
        step(&tinh, "2025", "unlock", None).json()["state"],
        "approved"
    );

    // reading: the one approval with its steps; lists scoped to the reader
    let one = xa
        .get(&format!("/api/approvals?form={FORM}&ou=06877&pe=2025"))
        .json();
    assert_eq!(one["approvals"][0]["state"], "approved");
    let steps: Vec<&str> = one["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["submit", "return", "submit", "approve", "lock", "unlock"]
    );
    let draft = xa
        .get(&format!("/api/approvals?form={FORM}&ou=06877&pe=2024"))
        .json();
    assert_eq!(
        draft["approvals"][0]["state"], "draft",
        "a unit and period with nothing done is a draft"
    );
    let listed = tinh
        .get("/api/approvals?ou=22&children=true&state=approved")
        .json();
    assert_eq!(listed["approvals"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["approvals"][0]["unit"], "06877");
    assert_eq!(
        other.get("/api/approvals").json()["approvals"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "another province sees nothing"
    );
    assert_eq!(
        other
            .get(&format!("/api/approvals?form={FORM}&ou=06877&pe=2025"))
            .status,
        403
    );
    assert_eq!(s.anon.get("/api/approvals").status, 401);
    assert_eq!(tinh.get("/api/approvals?state=done").status, 400);

    // every step audited with the state before and after
    let log = s.admin.get("/api/audit?entity=form_approval").json();
    let entries: Vec<&Value> = log["entries"].as_array().unwrap().iter().collect();
    assert_eq!(entries.len(), 6, "{log}");
    let lock = entries.iter().find(|e| e["action"] == "lock").unwrap();
    assert_eq!(lock["entity_key"], "BM-DTTS-02/06877@2025/2025");
    assert!(
        lock["before"].to_string().contains("approved")
            && lock["after"].to_string().contains("locked"),
        "{lock}"
    );
}

fn writes_are_refused_under_a_submitted_form_on_every_path(s: Server) {
    let (xa, tinh) = officers(&s);
    fill(&xa, "2025");
    assert_eq!(step(&xa, "2025", "submit", None).status, 200);
    let before = s.count_values();
    // native, one value
    let r = xa.put_json(
        "/api/dataValues",
        &json!({"indicator": "x-cnscd-tv", "unit": "06877", "period": "2025", "disaggregation": "F", "value": "9"}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let c = &r.json()["conflicts"][0];
    assert_eq!(c["field"], "dataValue[0].period");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .starts_with("biểu BM-DTTS-02 của đơn vị 06877 (Xã Đông Ngũ) kỳ 2025 đã nộp"),
        "{c}"
    );
    // a delete, by the province too
    let r = tinh.delete("/api/dataValues?indicator=x-cnscd-to&unit=06877&period=2025");
    assert_eq!(r.status, 409, "{}", r.body);
    // DHIS2 dataValueSets: the index of the value
    let r = s.admin.post_json(
        "/api/dataValueSets",
        &json!({"period": "2025", "orgUnit": "06877", "dataValues": [
            {"dataElement": "0101", "categoryOptionCombo": "E09.F", "value": "10"},
            {"dataElement": "x-thon-noms", "value": "0"}
        ]}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let c = &r.json()["response"]["conflicts"][0];
    assert_eq!(c["indexes"][0], 1, "{c}");
    assert!(c["value"].as_str().unwrap_or("").contains("đã nộp"), "{c}");
    // CSV: the row
    let r = xa.post(
        "/api/dataValues/csv",
        "text/csv",
        "indicator,unit,period,disaggregation,value\nx-cnscd-to,06877,2024,default,1\nx-cnscd-to,06877,2025,default,3\n",
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["conflicts"][0]["row"], 3);
    assert_eq!(s.count_values(), before, "nothing written");

    // locked: still refused; unlocked and returned: open again
    assert_eq!(step(&tinh, "2025", "approve", None).status, 200);
    assert_eq!(step(&tinh, "2025", "lock", None).status, 200);
    let put = |c: &Client| {
        c.put_json(
            "/api/dataValues",
            &json!({"indicator": "x-cnscd-tv", "unit": "06877", "period": "2025", "disaggregation": "F", "value": "9"}),
        )
    };
    let r = put(&s.admin);
    assert_eq!(r.status, 409, "not even an administrator: {}", r.body);
    assert!(r.body.contains("đã khóa"), "{}", r.body);
    assert_eq!(step(&tinh, "2025", "unlock", None).status, 200);
    assert_eq!(put(&xa).status, 409, "approved is not editable");
    assert_eq!(step(&tinh, "2025", "return", Some("Sửa số nữ")).status, 200);
    let r = put(&xa);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["importCount"]["updated"], 1);
}

fn this_year() -> String {
    dantoc_store::clock::today()[..4].to_string()
}

fn completeness_counts_on_time_late_and_missing(s: Server) {
    let (xa, tinh) = officers(&s);
    let year = this_year();
    // 2025 was due on 15 January 2026: a submission now is late; this year's is due next January
    for pe in ["2025", year.as_str()] {
        fill(&xa, pe);
        assert_eq!(step(&xa, pe, "submit", None).status, 200);
    }
    let past = tinh
        .get(&format!("/api/completeness?form={FORM}&ou=22&pe=2025"))
        .json();
    let n = past["units"].as_array().unwrap().len() as u64;
    assert!(
        n > 20,
        "the communes of Quảng Ninh since 1 July 2025: {past}"
    );
    assert_eq!(past["deadline"], "2026-01-15");
    assert_eq!(past["hierarchy"], "2025");
    let t = &past["totals"];
    assert_eq!(
        (
            t["units"].as_u64(),
            t["submitted"].as_u64(),
            t["on_time"].as_u64(),
            t["late"].as_u64(),
            t["overdue"].as_u64()
        ),
        (Some(n), Some(1), Some(0), Some(1), Some(n - 1)),
        "{t}"
    );
    let mine = past["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit"] == "06877")
        .unwrap();
    assert_eq!(
        (
            mine["timeliness"].clone(),
            mine["cells_filled"].clone(),
            mine["cells_expected"].clone()
        ),
        (json!("late"), json!(4), json!(4))
    );
    let other = past["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit"] != "06877")
        .unwrap();
    assert_eq!(other["timeliness"], "overdue");

    let now = tinh
        .get(&format!("/api/completeness?form={FORM}&ou=22&pe={year}"))
        .json();
    let t = &now["totals"];
    assert_eq!(
        (
            t["on_time"].as_u64(),
            t["late"].as_u64(),
            t["overdue"].as_u64(),
            t["not_submitted"].as_u64()
        ),
        (Some(1), Some(0), Some(0), Some(n - 1)),
        "before the deadline nobody is overdue: {t}"
    );

    // the commune officer sees their commune (the default unit)
    let own = xa
        .get(&format!("/api/completeness?form={FORM}&pe=2025"))
        .json();
    assert_eq!(own["units"].as_array().unwrap().len(), 1, "{own}");

    // CSV: a row per unit
    let csv = tinh.get(&format!("/api/completeness.csv?form={FORM}&ou=22&pe=2025"));
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with('\u{feff}'));
    assert_eq!(csv.body.lines().count() as u64, n + 1);
    assert!(
        csv.body
            .lines()
            .any(|l| l.starts_with(&format!("{FORM},2025,2026-01-15,06877,"))
                && l.contains(",submitted,")
                && l.contains(",late,4,4,0")),
        "{}",
        csv.body
    );

    // overdue, every form: BM-DTTS-01 for every commune, BM-DTTS-02 for all but 06877
    let o = tinh.get("/api/completeness/overdue?ou=22&pe=2025").json();
    assert_eq!(o["overdue"].as_array().unwrap().len() as u64, 2 * n - 1);
    let o = tinh
        .get(&format!("/api/completeness/overdue?ou=22&pe={year}"))
        .json();
    assert_eq!(o["overdue"].as_array().unwrap().len(), 0);

    // bad requests
    assert_eq!(
        tinh.get("/api/completeness?ou=22&pe=2025").status,
        400,
        "form required"
    );
    let r = tinh.get(&format!("/api/completeness?form={FORM}&ou=22&pe=2025Q1"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        s.anon.get("/api/completeness/overdue?ou=22&pe=2025").status,
        401
    );
}

fn pages_list_and_decide_with_the_csrf_token(s: Server) {
    let (xa, _) = officers(&s);
    fill(&xa, "2025");
    assert_eq!(step(&xa, "2025", "submit", None).status, 200);
    s.user("tinh-web", Role::ProvinceOfficer, &["22"]);
    let (r, page) = s.login("tinh-web", PASSWORD);
    let page = page.unwrap_or_else(|| panic!("{}", r.body));
    let csrf = r.json()["csrfToken"].as_str().unwrap().to_string();
    // anonymous: to the login page
    let r = s.anon.get("/phe-duyet");
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.header("location").unwrap().starts_with("/dang-nhap"));

    let r = page.get("/phe-duyet");
    assert_eq!(r.status, 200, "{}", r.body);
    for text in [
        "Phê duyệt biểu mẫu",
        "BM-DTTS-02",
        "Xã Đông Ngũ",
        "đã nộp",
        ">Duyệt</button>",
        ">Trả lại</button>",
        "href=\"/phe-duyet\"",
        "href=\"/tien-do\"",
    ] {
        assert!(r.body.contains(text), "{text}: {}", r.body);
    }
    assert!(r.body.contains(&format!("name=\"csrf\" value=\"{csrf}\"")));
    assert!(!r.body.contains("style=") && !r.body.contains("<script>"));
    assert!(
        !r.body.contains(">Mở khóa</button>"),
        "only steps the state allows"
    );

    let fields = |action: &str, csrf: &str| {
        vec![
            ("csrf".to_string(), csrf.to_string()),
            ("form".into(), FORM.into()),
            ("unit".into(), "06877@2025".into()),
            ("period".into(), "2025".into()),
            ("action".into(), action.into()),
            ("f_state".into(), "all".into()),
        ]
    };
    let post = |f: Vec<(String, String)>| {
        let f: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        page.post_form("/phe-duyet", &f)
    };
    // without the token: refused, nothing changed
    let r = post(fields("approve", "sai"));
    assert_eq!(r.status, 403, "{}", r.body);
    let state = |c: &Client| {
        c.get(&format!("/api/approvals?form={FORM}&ou=06877&pe=2025"))
            .json()["approvals"][0]["state"]
            .clone()
    };
    assert_eq!(state(&xa), "submitted");
    // a return without a comment is said on the page
    let r = post(fields("return", &csrf));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("ý kiến"), "{}", r.body);
    let r = post(fields("approve", &csrf));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("Duyệt: biểu BM-DTTS-02 của Xã Đông Ngũ"),
        "{}",
        r.body
    );
    assert!(r.body.contains(">Khóa</button>"), "{}", r.body);
    assert_eq!(state(&xa), "approved");
    let mut f = fields("return", &csrf);
    f.push(("comment".into(), "Kiểm tra lại số thôn <b>".into()));
    assert_eq!(post(f).status, 200);
    assert_eq!(state(&xa), "returned");

    // the commune officer's session: no approve button, a refusal when they post one
    s.user("xa-web", Role::CommuneOfficer, &["06877"]);
    let (r, xa_page) = s.login("xa-web", PASSWORD);
    let xa_page = xa_page.unwrap();
    let xa_csrf = r.json()["csrfToken"].as_str().unwrap().to_string();
    let r = xa_page.get("/phe-duyet");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Kiểm tra lại số thôn") && r.body.contains(">Nộp</button>"));
    assert!(!r.body.contains("<b>"), "the comment is escaped");
    assert!(!r.body.contains(">Duyệt</button>"));
    let f: Vec<(String, String)> = fields("submit", &xa_csrf);
    let f: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(xa_page.post_form("/phe-duyet", &f).status, 200);
    let f: Vec<(String, String)> = fields("approve", &xa_csrf);
    let f: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let r = xa_page.post_form("/phe-duyet", &f);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("cấp trên"), "{}", r.body);

    // the progress page: totals, the unit's line, the overdue list, the CSV link
    let r = page.get(&format!("/tien-do?form={FORM}&pe=2025&ou=22"));
    assert_eq!(r.status, 200, "{}", r.body);
    for text in [
        "Tiến độ báo cáo",
        "hạn nộp 15/01/2026",
        "Đã nộp <strong>1/",
        "nộp muộn",
        "quá hạn",
        "<meter",
        "/api/completeness.csv?form=BM-DTTS-02&#38;ou=22&#38;pe=2025",
        "Đơn vị quá hạn chưa nộp",
    ] {
        assert!(r.body.contains(text), "{text}: {}", r.body);
    }
    assert!(!r.body.contains("style="));
    let r = page.get("/tien-do?form=BM-DTTS-02&pe=2025Q3&ou=22");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("class=\"error\""), "{}", r.body);
    // defaults: the first form, the last year, the officer's province
    let r = page.get("/tien-do");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("BM-DTTS-01"), "{}", r.body);
}

/// A rule tightened after the figures were entered (at least 10 teams, an error): the form
/// that holds them cannot be submitted until they are corrected; a rule on other indicators
/// does not stop it.
fn a_form_that_breaks_an_error_rule_cannot_be_submitted(s: Server) {
    let (xa, tinh) = officers(&s);
    fill(&xa, "2025");
    let r = tinh.post_json(
        "/api/validationRules",
        &json!({"code": "it-nhat-10-to", "nameVi": "Ít nhất 10 tổ", "kind": "bounds",
                "indicator": "x-cnscd-to", "min": 10, "importance": "error"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = step(&xa, "2025", "submit", None);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["field"], "validation", "{}", r.body);
    assert!(r.body.contains("it-nhat-10-to"), "{}", r.body);
    let state = xa
        .get(&format!("/api/approvals?form={FORM}&ou=06877&pe=2025"))
        .json();
    assert!(!state.to_string().contains("\"submitted\""), "{state}");
    // corrected, it goes
    let r = xa.post_json(
        "/api/dataValues",
        &json!({"dataValues": [{"indicator": "x-cnscd-to", "unit": "06877", "period": "2025", "value": "12"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(step(&xa, "2025", "submit", None).status, 200);
}
