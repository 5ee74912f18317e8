//! The server as an attacker would try it, on SQLite and on PostgreSQL.

mod common;

use common::{PASSWORD, Server, start};
use dantoc_domain::access::Role;
use serde_json::json;

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
    commune_officer_cannot_cross_into_another_unit,
    roles_cannot_be_escalated,
    anonymous_sees_published_data_only_and_writes_nothing,
    injection_strings_are_inert,
    stored_markup_is_escaped_in_every_page,
    state_changes_need_the_csrf_token,
    eleventh_wrong_password_in_a_minute_is_throttled,
    expired_and_revoked_tokens_are_refused,
    personal_data_is_encrypted_masked_and_its_export_audited,
);

fn value(unit: &str, v: &str) -> serde_json::Value {
    json!({"indicator": "0101", "unit": unit, "period": "2025", "disaggregation": "E09.F", "value": v})
}

fn commune_officer_cannot_cross_into_another_unit(s: Server) {
    let xa = s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], true);
    // own commune: fine
    assert_eq!(
        xa.put_json("/api/dataValues", &value("06877", "10")).status,
        200
    );
    // another commune of the same province, by changing the code in the body: refused, nothing written
    let r = xa.put_json("/api/dataValues", &value("06862", "10"));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("outside your administrative units"));
    // a DHIS2 set mixing own and foreign units is refused whole
    let set = json!({"period": "2025", "dataValues": [
        {"dataElement": "0101", "orgUnit": "06877", "categoryOptionCombo": "E09.M", "value": "1"},
        {"dataElement": "0101", "orgUnit": "04", "categoryOptionCombo": "E09.M", "value": "1"}]});
    assert_eq!(xa.post_json("/api/dataValueSets", &set).status, 409);
    let csv = "indicator,unit,period,disaggregation,value\n0101,06877,2025,E09.M,1\n0101,06862,2025,E09.M,1\n";
    assert_eq!(xa.post("/api/dataValues/csv", "text/csv", csv).status, 409);
    assert_eq!(s.count_values(), 1);
    // a value the province holds unpublished at another commune cannot be read by id or filter
    assert_eq!(
        s.put_json("/api/dataValues", &value("06862", "77")).status,
        200
    );
    let r = xa.get("/api/dataValues?unit=06862");
    assert_eq!(
        r.json()["dataValues"].as_array().unwrap().len(),
        0,
        "{}",
        r.body
    );
    let r = xa.get("/api/dataValues?unit=22&children=true");
    let units: Vec<String> = r.json()["dataValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["unit"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(units, vec!["06877"]);
    assert_eq!(
        xa.get(
            "/api/dataValues/history?indicator=0101&unit=06862&period=2025&disaggregation=E09.F"
        )
        .status,
        403
    );
    assert_eq!(
        xa.get("/api/dataValueSets?orgUnit=06862").json()["dataValues"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert!(!xa.get("/don-vi/06862").body.contains(">77<"));
    // nor delete it
    assert_eq!(
        xa.delete("/api/dataValues?indicator=0101&unit=06862&period=2025&disaggregation=E09.F")
            .status,
        409
    );
    // villages: only under its own commune; lineage shares are for the province
    assert_eq!(
        xa.post_json(
            "/api/units/06862/villages",
            &json!({"code": "06862-X", "name": "X"})
        )
        .status,
        403
    );
    assert_eq!(
        xa.post_json(
            "/api/units/06877/villages",
            &json!({"code": "06877-X", "name": "Khe Lạc"})
        )
        .status,
        201
    );
    assert_eq!(
        xa.put_json(
            "/api/units/06877/lineage",
            &json!({"weights": {"06862": 0.1, "06877": 0.9}})
        )
        .status,
        403
    );
    // the provincial officer of Quảng Ninh reaches every commune of it, and the pre-2025 units that became it, not Cao Bằng's
    let tinh = s.token_client("can-bo-tinh", Role::ProvinceOfficer, &["22"], true);
    assert_eq!(
        tinh.put_json("/api/dataValues", &value("06862", "78"))
            .status,
        200
    );
    assert_eq!(tinh.put_json("/api/dataValues", &json!({"indicator": "0101", "unit": "06877@2024", "period": "2024", "disaggregation": "E09.F", "value": "5"})).status, 200);
    assert_eq!(
        tinh.put_json("/api/dataValues", &value("04", "1")).status,
        409
    );
    let r = tinh.put_json(
        "/api/units/06877/lineage",
        &json!({"weights": {"06862": 0.1, "06877": 0.9}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        tinh.post_json("/api/publish", &json!({"units": ["04"], "children": true}))
            .status,
        403
    );
}

fn roles_cannot_be_escalated(s: Server) {
    let xa = s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], true);
    let r = xa.post_json(
        "/api/users",
        &json!({"username": "evil", "role": "admin", "password": "Rất-mạnh-2025!"}),
    );
    assert_eq!(r.status, 403);
    let r = xa.put_json(
        "/api/users/can-bo-xa",
        &json!({"role": "admin", "scopes": []}),
    );
    assert_eq!(r.status, 403);
    assert_eq!(xa.post_json("/api/indicators", &json!({"code": "x-evil", "name_vi": "x", "value_type": "number", "aggregation": "sum", "period_type": "yearly"})).status, 403);
    assert_eq!(xa.get("/api/audit").status, 403);
    assert_eq!(xa.get("/api/users").status, 403);
    // a token cannot mint a broader token
    let r = xa.post_json(
        "/api/tokens",
        &json!({"name": "more", "can_write": true, "scopes": ["22"]}),
    );
    assert_eq!(r.status, 403);
    // a viewer and a read-only token write nothing
    let viewer = s.token_client("nguoi-xem", Role::Viewer, &["04"], false);
    assert_eq!(
        viewer
            .put_json("/api/dataValues", &value("06877", "1"))
            .status,
        403
    );
    let ro = s.token_client("doc-tinh", Role::ProvinceOfficer, &["22"], false);
    assert_eq!(
        ro.put_json("/api/dataValues", &value("06877", "1")).status,
        403
    );
    assert_eq!(s.count_values(), 0);
    // the accounts page is for administrators only
    let (_, tinh) = {
        s.user("tinh-web", Role::ProvinceOfficer, &["22"]);
        s.login("tinh-web", PASSWORD)
    };
    let tinh = tinh.expect("login");
    assert_eq!(tinh.get("/quan-tri/nguoi-dung").status, 403);
    assert_eq!(
        s.anon.get("/quan-tri/nguoi-dung").status,
        303,
        "anonymous is sent to the login page"
    );
    // an administrator cannot lock themselves out by changing their own role
    s.user("boss", Role::Admin, &[]);
    let (_, boss) = s.login("boss", PASSWORD);
    let r = boss.unwrap().put_json(
        "/api/users/boss",
        &json!({"role": "viewer", "scopes": ["22"]}),
    );
    assert_eq!(r.status, 400);
}

fn anonymous_sees_published_data_only_and_writes_nothing(s: Server) {
    assert_eq!(
        s.anon
            .put_json("/api/dataValues", &value("06877", "1"))
            .status,
        401
    );
    assert_eq!(
        s.anon
            .post_json("/api/dataValueSets", &json!({"dataValues": []}))
            .status,
        401
    );
    assert_eq!(s.anon.post_json("/api/indicators", &json!({})).status, 401);
    s.put_json("/api/dataValues", &value("06877", "1234"));
    assert_eq!(
        s.anon.get("/api/dataValues?unit=06877").json()["dataValues"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert!(!s.anon.get("/don-vi/06877").body.contains("1.234"));
    let r = s.post_json("/api/publish", &json!({"units": ["06877"]}));
    assert_eq!(r.json()["changed"], 1, "{}", r.body);
    assert_eq!(
        s.anon.get("/api/dataValues?unit=06877").json()["dataValues"][0]["value_text"],
        "1234"
    );
    assert!(s.anon.get("/don-vi/06877").body.contains("1.234"));
    let audit = s.get("/api/audit?action=publish").json();
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1);
}

const INJECTIONS: &[&str] = &[
    "' OR '1'='1",
    "1; DROP TABLE data_value; --",
    "%' OR 1=1 --",
    "\" OR \"\"=\"",
    "0101' UNION SELECT password_hash FROM app_user --",
    "\\'; DELETE FROM admin_unit; --",
];

fn injection_strings_are_inert(s: Server) {
    s.put_json("/api/dataValues", &value("06877", "1"));
    let enc = |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let paths = [
        "/api/units?q=",
        "/api/units?version=2024&q=",
        "/api/units?parent=",
        "/api/units/",
        "/api/ethnic-groups?q=",
        "/api/indicators?q=",
        "/api/dataValues?indicator=",
        "/api/dataValues?unit=",
        "/api/dataValues?period=",
        "/api/dataValues?disaggregation=",
        "/api/dataValues?lastUpdated=",
        "/api/dataValues?startDate=",
        "/api/dataValueSets?dataElement=",
        "/api/dataValueSets?orgUnit=",
        "/api/audit?actor=",
        "/api/audit?entity=",
        "/api/audit?from=",
        "/tim-kiem?q=",
        "/don-vi/",
        "/api/indicators/",
        "/api/ethnic-groups/",
        "/api/dataValues/history?indicator=0101&unit=06877&period=2025&disaggregation=",
    ];
    for inj in INJECTIONS {
        for p in paths {
            let r = s.get(&format!("{p}{}", enc(inj)));
            assert!(r.status < 500, "{p}{inj} → {}: {}", r.status, r.body);
            assert!(!r.body.contains("$argon2"), "{p}{inj} leaked a hash");
            assert!(
                !r.body.to_lowercase().contains("syntax error"),
                "{p}{inj}: {}",
                r.body
            );
        }
        // and in bodies
        let r = s.put_json(
            "/api/dataValues",
            &json!({"indicator": inj, "unit": inj, "period": "2025", "value": inj}),
        );
        assert!(r.status == 409 || r.status == 400, "{}", r.body);
        let r = s.post_json(
            "/api/auth/login",
            &json!({"username": inj, "password": inj}),
        );
        assert_eq!(r.status, 401);
    }
    // everything is still there
    assert_eq!(s.count_values(), 1);
    assert_eq!(
        s.get("/api/units").json()["units"]
            .as_array()
            .unwrap()
            .len(),
        34
    );
    assert_eq!(
        s.db.read(|c| dantoc_store::audit::verify(c))
            .unwrap()
            .first_broken,
        None
    );
}

const XSS: &str = "<script>alert('x')</script><img src=x onerror=alert(1)>";

fn stored_markup_is_escaped_in_every_page(s: Server) {
    assert_eq!(
        s.post_json(
            "/api/units/06877/villages",
            &json!({"code": "06877-XSS", "name": XSS})
        )
        .status,
        201
    );
    let mut ind = s.get("/api/indicators/x-cnscd-to").json();
    ind["name_vi"] = json!(XSS);
    ind["unit"] = json!(XSS);
    assert_eq!(s.put_json("/api/indicators/x-cnscd-to", &ind).status, 200);
    let mut v = value("06877", "3");
    v["indicator"] = json!("x-cnscd-to");
    v["disaggregation"] = json!("default");
    v["comment"] = json!(XSS);
    assert_eq!(s.put_json("/api/dataValues", &v).status, 200, "");
    let r = s.post_json("/api/users", &json!({"username": "nguoi-dung-xss", "full_name": XSS, "role": "viewer", "scopes": ["22"], "password": "Rất-mạnh-2025!"}));
    assert_eq!(r.status, 201, "{}", r.body);
    s.user("quan-tri-web", Role::Admin, &[]);
    let (_, admin) = s.login("quan-tri-web", PASSWORD);
    let admin = admin.unwrap();
    let pages = [
        "/don-vi/06877",
        "/don-vi/06877-XSS",
        "/chi-tieu",
        "/tim-kiem?q=alert",
        "/quan-tri/nguoi-dung",
        "/ban-do?ou=06877&ct=x-cnscd-to",
        "/ban-do?ou=22&ct=x-cnscd-to",
        &format!(
            "/tim-kiem?q={}",
            form_urlencoded::byte_serialize(XSS.as_bytes()).collect::<String>()
        ),
        &format!(
            "/don-vi/{}",
            form_urlencoded::byte_serialize(XSS.as_bytes()).collect::<String>()
        ),
    ];
    for p in pages {
        let r = admin.get(p);
        assert!(
            !r.body.contains("<script>alert"),
            "{p} renders the script unescaped"
        );
        assert!(
            !r.body.contains("<img src=x"),
            "{p} renders the image tag unescaped"
        );
    }
    // askama escapes < and > as numeric references
    let escaped = |b: &str, tag: &str| {
        b.contains(&format!("&lt;{tag}")) || b.contains(&format!("&#60;{tag}"))
    };
    assert!(escaped(&admin.get("/don-vi/06877-XSS").body, "script&"));
    assert!(escaped(&admin.get("/quan-tri/nguoi-dung").body, "script&"));
    assert!(escaped(&admin.get("/don-vi/06877").body, "img src=x"));
    // the map page names the village and the indicator in its markup, escaped
    let map = admin.get("/ban-do?ou=06877&ct=x-cnscd-to").body;
    assert!(map.contains(r#"data-code="06877-XSS""#), "{map}");
    assert!(escaped(&map, "script&"));
}

fn state_changes_need_the_csrf_token(s: Server) {
    s.user("can-bo", Role::ProvinceOfficer, &["22"]);
    let (r, c) = s.login("can-bo", PASSWORD);
    let cookie = r
        .headers_named("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("dantoc_session="))
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let c = c.unwrap();
    let session_only = s
        .anon
        .with_header("Cookie", cookie.split(';').next().unwrap());
    // without the token: refused; with it: accepted
    assert_eq!(
        session_only
            .put_json("/api/dataValues", &value("06877", "1"))
            .status,
        403
    );
    assert_eq!(
        session_only
            .with_header("X-CSRF-Token", "wrong")
            .put_json("/api/dataValues", &value("06877", "1"))
            .status,
        403
    );
    assert_eq!(
        c.put_json("/api/dataValues", &value("06877", "1")).status,
        200
    );
    // a request from another site is refused even with the token
    assert_eq!(
        c.with_header("Sec-Fetch-Site", "cross-site")
            .put_json("/api/dataValues", &value("06877", "2"))
            .status,
        403
    );
    assert_eq!(
        c.with_header("Origin", "http://evil.example")
            .put_json("/api/dataValues", &value("06877", "2"))
            .status,
        403
    );
    // HTML forms: the accounts form without its token, and the logout form
    s.user("admin-web", Role::Admin, &[]);
    let (_, a) = s.login("admin-web", PASSWORD);
    let a = a.unwrap();
    let r = a.post_form(
        "/quan-tri/nguoi-dung",
        &[
            ("username", "moi"),
            ("role", "viewer"),
            ("scopes", "22"),
            ("password", "Rất-mạnh-2025!"),
            ("active", "1"),
        ],
    );
    assert_eq!(r.status, 403);
    assert!(
        s.db.read(|c| dantoc_store::accounts::get(c, "moi"))
            .unwrap()
            .is_none()
    );
    // the login form itself needs its double-submit token
    let r = s.anon.post_form(
        "/dang-nhap",
        &[("username", "can-bo"), ("password", PASSWORD)],
    );
    assert_eq!(r.status, 403);
    // logging out ends the session
    let csrf = c.get("/api/me").json()["csrfToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.post_form("/dang-xuat", &[("csrf", &csrf)]).status, 303);
    assert_eq!(c.get("/api/me").status, 401);
}

fn eleventh_wrong_password_in_a_minute_is_throttled(s: Server) {
    s.user("nan-nhan", Role::Viewer, &["22"]);
    for i in 0..10 {
        let (r, _) = s.login("nan-nhan", "sai-mat-khau");
        assert_eq!(r.status, 401, "attempt {}", i + 1);
    }
    let (r, c) = s.login("nan-nhan", PASSWORD);
    assert_eq!(
        r.status, 429,
        "the 11th attempt is throttled even with the right password: {}",
        r.body
    );
    assert!(c.is_none());
    // another account from the same address is throttled too (per address)
    s.user("khac", Role::Viewer, &["22"]);
    assert_eq!(s.login("khac", PASSWORD).0.status, 429);
    // attempts are in the audit trail of logins (no password stored)
    let rows =
        s.db.read(|c| {
            c.scalar_i64(
                "SELECT count(*) FROM login_attempt WHERE username = 'nan-nhan'",
                &[],
            )
        })
        .unwrap();
    assert_eq!(rows, 11);
}

fn expired_and_revoked_tokens_are_refused(s: Server) {
    s.user("may-khach", Role::ApiClient, &["22"]);
    let (expired, live) =
        s.db.write(|c| {
            let u = dantoc_store::accounts::get(c, "may-khach")?.unwrap();
            let (e, _) =
                dantoc_store::accounts::create_token(c, &u, "old", true, Some("2020-01-01"), &[])?;
            let (l, info) =
                dantoc_store::accounts::create_token(c, &u, "sync", true, None, &["06877".into()])?;
            Ok((e, (l, info.id)))
        })
        .unwrap();
    let old = s
        .anon
        .with_header("Authorization", &format!("Bearer {expired}"));
    assert_eq!(old.get("/api/me").status, 401);
    assert_eq!(
        old.put_json("/api/dataValues", &value("06877", "1")).status,
        401
    );
    let good = s
        .anon
        .with_header("Authorization", &format!("Bearer {}", live.0));
    assert_eq!(
        good.put_json("/api/dataValues", &value("06877", "1"))
            .status,
        200
    );
    // the token is narrowed to 06877 even though its account covers the province
    assert_eq!(
        good.put_json("/api/dataValues", &value("06862", "1"))
            .status,
        409
    );
    assert_eq!(s.delete(&format!("/api/tokens/{}", live.1)).status, 204);
    assert_eq!(
        good.put_json("/api/dataValues", &value("06877", "2"))
            .status,
        401
    );
    let garbage = s.anon.with_header("Authorization", "Bearer dt_0000");
    assert_eq!(garbage.get("/api/dataValues").status, 401);
}

fn personal_data_is_encrypted_masked_and_its_export_audited(s: Server) {
    let r = s.post_json("/api/users", &json!({"username": "nguyen-van-a", "full_name": "Nguyễn Văn A", "role": "commune_officer", "scopes": ["06877"], "phone": "0912345678", "password": "Rất-mạnh-2025!"}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["phone"], "09******78");
    assert!(!r.body.contains("$argon2"), "no password hash in answers");
    let stored =
        s.db.read(|c| {
            c.query_one(
                "SELECT phone_enc FROM app_user WHERE username = 'nguyen-van-a'",
                &[],
            )
        })
        .unwrap()
        .unwrap()
        .str(0);
    assert!(stored.starts_with("enc1:") && !stored.contains("0912345678"));
    let list = s.get("/api/users").json();
    let a = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "nguyen-van-a")
        .unwrap()
        .clone();
    assert_eq!(a["phone"], "09******78");
    let full = s.get("/api/users?unmasked=true").json();
    let a = full["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "nguyen-van-a")
        .unwrap()
        .clone();
    assert_eq!(a["phone"], "0912345678");
    let audit = s.get("/api/audit?action=export_personal_data").json();
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1);
    // a bad phone number is refused, naming the field
    let r = s.post_json("/api/users", &json!({"username": "b-b-b", "role": "viewer", "scopes": ["22"], "phone": "<b>", "password": "Rất-mạnh-2025!"}));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["field"], "phone");
    // and weak passwords too
    let r = s.post_json(
        "/api/users",
        &json!({"username": "c-c-c", "role": "viewer", "scopes": ["22"], "password": "123456"}),
    );
    assert_eq!(r.json()["errors"][0]["field"], "password");
}
