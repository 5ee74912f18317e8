//! Analytics over real HTTP, on SQLite and on PostgreSQL (`sqlite::*`, `postgres::*`): DHIS2's
//! analytics shape, the native pivot, charts, errors, and who sees what.

mod common;

use common::{Server, start};
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
    dhis2_analytics_rolls_up_what_was_written,
    native_pivot_pages_and_charts,
    analytics_errors_name_the_parameter,
    anonymous_readers_see_published_figures_only,
    files_open_in_other_programs,
    targets_progress_and_report_tables,
    analytics_pages_render_in_vietnamese,
    choropleth_of_a_pivot,
);

/// Đông Ngũ (06877) and Tiên Yên (06862), communes of Quảng Ninh (22) since 1 July 2025.
fn write(s: &Server) {
    let dv = |de: &str, ou: &str, pe: &str, coc: &str, v: &str| json!({"dataElement": de, "orgUnit": ou, "period": pe, "categoryOptionCombo": coc, "value": v});
    let payload = json!({"dataValues": [
        dv("x-pop-total", "06877", "2025", "default", "12000"),
        dv("x-pop-total", "06862", "2025", "default", "30000"),
        dv("0101", "06877", "2025", "E02.M", "1500"),
        dv("0101", "06877", "2025", "E02.F", "1600"),
        dv("0101", "06877", "2025", "E01.M", "2000"),
        dv("0101", "06862", "2025", "E10.F", "900"),
    ]});
    let r = s.post_json("/api/dataValueSets", &payload);
    assert_eq!(r.status, 200, "{}", r.body);
}

fn rows(j: &Value) -> Vec<Vec<String>> {
    j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

fn dhis2_analytics_rolls_up_what_was_written(s: Server) {
    write(&s);
    let j = s
        .get("/api/analytics?dimension=dx:x-pop-total;0101;x-dtts-share-calc&dimension=ou:22;LEVEL-2&dimension=pe:2025")
        .json();
    let names: Vec<&str> = j["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dx", "ou", "pe", "value"]);
    assert_eq!(j["width"], 4);
    let r = rows(&j);
    let get = |dx: &str, ou: &str| {
        r.iter()
            .find(|x| x[0] == dx && x[1] == ou)
            .map(|x| x[3].parse::<f64>().unwrap())
    };
    assert_eq!(get("x-pop-total", "06877"), Some(12000.0));
    assert_eq!(get("0101", "06877"), Some(1500.0 + 1600.0 + 2000.0));
    assert_eq!(get("0101", "06862"), Some(900.0));
    // derived per commune: Σ 0101 / population × 100
    let share = get("x-dtts-share-calc", "06877").unwrap();
    assert!((share - 5100.0 / 12000.0 * 100.0).abs() < 1e-9, "{share}");
    assert_eq!(j["metaData"]["items"]["06877"]["name"], "Xã Đông Ngũ");
    assert_eq!(j["metaData"]["dimensions"]["pe"], json!(["2025"]));
    assert_eq!(j["height"].as_u64().unwrap() as usize, r.len());
    // the province: a ratio of sums, with minorities apart from the Kinh
    let j = s
        .get("/api/analytics?dimension=dx:0101;x-dtts-share-calc&dimension=ou:22&dimension=pe:2025&dimension=eth:DTTS;KINH")
        .json();
    let r = rows(&j);
    let get = |dx: &str, eth: &str| {
        r.iter()
            .find(|x| x[0] == dx && x[3] == eth)
            .map(|x| x[4].parse::<f64>().unwrap())
    };
    assert_eq!(get("0101", "DTTS"), Some(1500.0 + 1600.0 + 900.0));
    assert_eq!(get("0101", "KINH"), Some(2000.0));
    // a figure written now is in the next answer
    let r = s.post_json(
        "/api/dataValueSets",
        &json!({"dataValues": [{"dataElement": "x-pop-total", "orgUnit": "06877", "period": "2025", "value": "12500"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let j = s
        .get("/api/analytics.json?dimension=dx:x-pop-total&dimension=ou:22&dimension=pe:2025")
        .json();
    assert_eq!(rows(&j), [["x-pop-total", "22", "2025", "42500"]]);
    // the same figures read in the 2024 hierarchy are mapped through the lineage and flagged
    let j = s.get("/api/analytics?dimension=dx:x-pop-total&dimension=ou:22&dimension=pe:2025&hierarchy=2024").json();
    assert_eq!(rows(&j), [["x-pop-total", "22", "2025", "42500"]]);
    assert_eq!(j["metaData"]["dantoc"]["mappedRows"], json!([0]));
}

fn native_pivot_pages_and_charts(s: Server) {
    write(&s);
    let q = "dimension=dx:0101&dimension=ou:06877;06862&dimension=pe:2025&dimension=eth&rows=ou;eth&columns=pe";
    let j = s.get(&format!("/api/pivot?{q}&pageSize=2")).json();
    assert_eq!(j["pager"]["total"], 3, "{j}");
    assert_eq!(j["pager"]["pageCount"], 2);
    let t = &j["table"];
    assert_eq!(t["rows"].as_array().unwrap().len(), 2);
    assert_eq!(second_len(&s, q), 1);
    assert_eq!(
        t["row_dims"][0]["id"], "dx",
        "a dimension placed nowhere goes first in the rows"
    );
    assert_eq!(t["row_dims"][2]["name_vi"], "Dân tộc");
    assert_eq!(t["col_dims"][0]["items"][0]["name"], "Năm 2025");
    let second = s.get(&format!("/api/pivot?{q}&pageSize=2&page=2")).json();
    let all: Vec<f64> = [t, &second["table"]]
        .iter()
        .flat_map(|t| {
            t["cells"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r[0]["value"].as_f64().unwrap())
        })
        .collect();
    let mut sorted = all.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sorted, [900.0, 2000.0, 3100.0]);
    let svg = s.get(&format!("/api/analytics.svg?{q}&chart=stacked"));
    assert_eq!(svg.status, 200);
    assert!(
        svg.header("content-type")
            .unwrap()
            .starts_with("image/svg+xml")
    );
    assert!(
        svg.body.starts_with("<svg") && svg.body.contains("Xã Đông Ngũ"),
        "{}",
        &svg.body[..200.min(svg.body.len())]
    );
    let line = s.get("/api/analytics.svg?dimension=dx:x-pop-total&dimension=ou:06877&dimension=pe:2024;2025&chart=line");
    assert_eq!(line.status, 200);
    assert!(
        line.body.contains("<polyline") || line.body.contains("<circle"),
        "{}",
        line.body
    );
    assert_eq!(
        s.get(&format!("/api/analytics.svg?{q}&chart=pie")).status,
        400
    );
}

fn second_len(s: &Server, q: &str) -> usize {
    s.get(&format!("/api/pivot?{q}&pageSize=2&page=2")).json()["table"]["rows"]
        .as_array()
        .unwrap()
        .len()
}

fn analytics_errors_name_the_parameter(s: Server) {
    let bad = |q: &str, field: &str| {
        let r = s.get(&format!("/api/analytics?{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        let j = r.json();
        let fields: Vec<&str> = j["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{q}: {j}");
    };
    bad(
        "dimension=dx:0101&dimension=xx:1&dimension=pe:2024",
        "dimension[1]",
    );
    bad("dimension=dx:NOPE&dimension=pe:2024", "dimension[0]");
    bad("dimension=dx:0101&dimension=pe:2024Q5", "dimension[1]");
    bad(
        "dimension=dx:0101&dimension=pe:2024&dimension=ou:99999",
        "dimension[2]",
    );
    bad("dimension=ou:22", "dimension");
    bad(
        "dimension=dx:0101&dimension=pe:2024&hierarchy=1999",
        "hierarchy",
    );
    bad(
        "dimension=dx:0101&dimension=pe:2024&dimension=eth:XX",
        "dimension[2]",
    );
}

fn anonymous_readers_see_published_figures_only(s: Server) {
    write(&s);
    let q = "/api/analytics?dimension=dx:x-pop-total&dimension=ou:22&dimension=pe:2025";
    assert_eq!(
        rows(&s.anon.get(q).json()).len(),
        0,
        "nothing published yet"
    );
    let r = s.post_json(
        "/api/publish",
        &json!({"units": ["06877"], "indicators": ["x-pop-total"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        rows(&s.anon.get(q).json()),
        [["x-pop-total", "22", "2025", "12000"]]
    );
    assert_eq!(
        rows(&s.get(q).json()),
        [["x-pop-total", "22", "2025", "42000"]]
    );
}

/// Run an independent reader from `tests/python/` (openpyxl, pysdmx) on a file, as the
/// report crate's tests do; `DANTOC_TEST_PYTHON` is set by scripts/test.sh.
fn python_reads(script: &str, bytes: &[u8], ext: &str) -> Value {
    let python = std::env::var("DANTOC_TEST_PYTHON")
        .expect("DANTOC_TEST_PYTHON is not set: run scripts/test.sh (it makes the venv with openpyxl and pysdmx)");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("pivot.{ext}"));
    std::fs::write(&file, bytes).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/python")
        .join(script);
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn files_open_in_other_programs(s: Server) {
    write(&s);
    let q = "dimension=dx:0101&dimension=ou:06877;06862&dimension=pe:2025&dimension=eth:DTTS;KINH&rows=ou&columns=eth";
    // Excel, read by openpyxl: title, Vietnamese headers and the numbers
    let x = python_reads(
        "read_xlsx.py",
        &s.admin.get_bytes(&format!("/api/analytics.xlsx?{q}")),
        "xlsx",
    );
    let cells = x["cells"].as_object().unwrap();
    let texts: Vec<String> = cells
        .values()
        .filter_map(|c| c["value"].as_str().map(str::to_string))
        .collect();
    assert!(texts.iter().any(|t| t == "Xã Đông Ngũ"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "Dân tộc thiểu số"), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.starts_with("Nguồn: dantoc")),
        "{texts:?}"
    );
    let mut numbers: Vec<f64> = cells.values().filter_map(|c| c["value"].as_f64()).collect();
    numbers.sort_by(f64::total_cmp);
    assert_eq!(
        numbers,
        [900.0, 2000.0, 3100.0],
        "DTTS and Kinh of Đông Ngũ, DTTS of Tiên Yên"
    );
    // SDMX-CSV 2.0, read by pysdmx
    let body = s.get(&format!("/api/analytics.sdmx.csv?{q}"));
    assert_eq!(body.status, 200);
    let d = python_reads("read_sdmx.py", body.body.as_bytes(), "csv");
    let ds = &d["datasets"][0];
    assert_eq!(ds["structure"], "Dataflow=DANTOC:DF_DTTS(1.0)");
    let rows = ds["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let obs = |area: &str, eth: &str| {
        rows.iter()
            .find(|r| {
                r["REF_AREA"].as_str().map(|a| a.trim_start_matches('0'))
                    == Some(area.trim_start_matches('0'))
                    && r["ETHNIC_GROUP"] == eth
            })
            .map(|r| r["OBS_VALUE"].as_str().unwrap().parse::<f64>().unwrap())
    };
    assert_eq!(obs("06877", "DTTS"), Some(3100.0));
    assert_eq!(obs("06877", "KINH"), Some(2000.0));
    assert_eq!(obs("06862", "DTTS"), Some(900.0));
    // CSV, long form with codes and names
    let csv = s.get(&format!("/api/analytics.csv?{q}"));
    assert!(csv.body.starts_with('\u{feff}'));
    assert!(
        csv.body.contains("Xã Đông Ngũ") && csv.body.contains("3100"),
        "{}",
        csv.body
    );
}

fn targets_progress_and_report_tables(s: Server) {
    // a target for 2026 and figures up to 2025
    write(&s);
    let r = s.put_json("/api/targets", &json!({"indicator": "x-pop-total", "unit": "06877", "period": "2026", "value": 15000, "source": "Kế hoạch thử"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s.put_json(
        "/api/targets",
        &json!({"indicator": "x-pop-total", "unit": "06877", "period": "2024", "value": 10000}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let j = s
        .get("/api/targets?indicator=x-pop-total&unit=06877")
        .json();
    let list = j["targets"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{j}");
    let t26 = list
        .iter()
        .find(|t| t["target"]["period"] == "2026")
        .unwrap();
    let p = &t26["progress"];
    assert_eq!(p["actual"], 12000.0);
    assert_eq!(p["achieved_pct"], 80.0);
    // the path from 10,000 (2024) to 15,000 (2026) stands at 12,500 at the end of 2025
    assert_eq!(p["expected"], 12500.0);
    assert_eq!(p["status"], "off_track");
    assert_eq!(t26["statusLabel"], "Chậm tiến độ");
    let bad = s.put_json(
        "/api/targets",
        &json!({"indicator": "nope", "unit": "06877", "period": "2026Q9", "value": 1}),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json()["errors"].as_array().unwrap().len(),
        2,
        "{}",
        bad.body
    );
    // a commune officer of Tiên Yên may not set Đông Ngũ's targets, nor any (no catalogue right)
    let officer = s.token_client(
        "canbo",
        dantoc_domain::access::Role::CommuneOfficer,
        &["06862"],
        true,
    );
    let r = officer.put_json(
        "/api/targets",
        &json!({"indicator": "x-pop-total", "unit": "06877", "period": "2026", "value": 1}),
    );
    assert_eq!(r.status, 403);
    // report tables: saved, found without diacritics, opened by link
    let r = s.post_json(
        "/api/reportTables",
        &json!({"name": "Dân số DTTS theo xã", "query": "dimension=dx:0101&dimension=ou:22;LEVEL-2&dimension=pe:THIS_YEAR", "official": true}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let found = s.anon.get("/api/reportTables?q=dan%20so%20dtts").json();
    assert_eq!(found["reportTables"][0]["id"], id);
    assert_eq!(
        s.anon.get("/api/reportTables?q=ngheo").json()["reportTables"],
        json!([])
    );
    let bad = s.post_json(
        "/api/reportTables",
        &json!({"name": "x", "query": "dimension=zz:1"}),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["errors"][0]["field"], "query.dimension[0]");
    assert_eq!(
        s.anon
            .post_json(
                "/api/reportTables",
                &json!({"name": "x", "query": "dimension=dx:0101&dimension=pe:2024"})
            )
            .status,
        401
    );
    // a viewer saves a favourite of their own, in a session
    s.user("xem", dantoc_domain::access::Role::Viewer, &["22"]);
    let (_, viewer) = s.login("xem", common::PASSWORD);
    let viewer = viewer.expect("viewer logged in");
    let r = viewer.post_json("/api/reportTables", &json!({"name": "Của tôi", "query": "dimension=dx:0101&dimension=pe:2024", "shared": false}));
    assert_eq!(r.status, 201, "{}", r.body);
    let mine = r.json()["id"].as_i64().unwrap();
    assert_eq!(
        s.anon.get(&format!("/api/reportTables/{mine}")).status,
        404,
        "not shared"
    );
    assert_eq!(
        viewer.delete(&format!("/api/reportTables/{id}")).status,
        403,
        "not the owner"
    );
    assert_eq!(
        viewer.delete(&format!("/api/reportTables/{mine}")).status,
        200
    );
    let audit = s.get("/api/audit?entity=report_table").json();
    assert!(audit.to_string().contains("Dân số DTTS theo xã"), "{audit}");
}

fn analytics_pages_render_in_vietnamese(s: Server) {
    write(&s);
    // the form's simple fields become a DHIS2 query; the table is sorted by a link
    let page = s.get("/phan-tich?dx=0101&ou=22&level=2&pe=2025&sort=0&desc=1");
    assert_eq!(page.status, 200, "{}", page.body);
    let b = &page.body;
    assert!(b.contains("<table class=\"data pivot\">"), "{b}");
    let first = b.find("Xã Đông Ngũ").expect("Đông Ngũ in the table");
    let second = b.find("Xã Tiên Yên").expect("Tiên Yên in the table");
    assert!(
        first < second,
        "sorted by value, largest first: 5.100 before 900"
    );
    assert!(
        b.contains("5.100") && b.contains(">900<"),
        "Vietnamese numbers"
    );
    assert!(
        b.contains("/api/analytics.xlsx?dimension=dx%3A0101"),
        "download links keep the query"
    );
    assert!(
        b.contains("sort=0&#38;desc=0"),
        "the sorted column sorts the other way next"
    );
    // a bad choice is said in the page, not as a crash
    let bad = s.get("/phan-tich?dx=0101&ou=99999&pe=2025");
    assert_eq!(bad.status, 200);
    assert!(
        bad.body.contains("class=\"error\"") && bad.body.contains("99999"),
        "{}",
        bad.body
    );
    // targets, report tables, dashboard
    let r = s.put_json(
        "/api/targets",
        &json!({"indicator": "x-pop-total", "unit": "06877", "period": "2026", "value": 15000}),
    );
    assert_eq!(r.status, 200);
    let t = s.get("/muc-tieu?unit=06877");
    assert!(
        t.body.contains("Xã Đông Ngũ") && t.body.contains("<meter"),
        "{}",
        t.body
    );
    let r = s.post_json("/api/reportTables", &json!({"name": "Dân số DTTS theo xã", "query": "dimension=dx:0101&dimension=ou:22;LEVEL-2&dimension=pe:2024"}));
    let id = r.json()["id"].as_i64().unwrap();
    assert!(
        s.get("/bao-cao?q=dan+so")
            .body
            .contains("Dân số DTTS theo xã")
    );
    // the search box finds report tables and indicators in any case, without diacritics
    let found = s.get("/tim-kiem?q=DAN+SO+dtts").body;
    assert!(found.contains(&format!("/bao-cao/{id}")), "{found}");
    assert!(found.contains("/phan-tich?dx=0101"), "{found}");
    // and forms, by words of their name or by code
    assert!(found.contains("/bieu-mau#form-BM-DTTS-01"), "{found}");
    let by_code = s.get("/tim-kiem?q=bm-dtts-02").body;
    assert!(by_code.contains("/bieu-mau#form-BM-DTTS-02"), "{by_code}");
    assert!(!by_code.contains("/bieu-mau#form-BM-DTTS-01"), "{by_code}");
    let by_words = s.get("/tim-kiem?q=song+di+dong").body;
    assert!(by_words.contains("/bieu-mau#form-BM-DTTS-02"), "{by_words}");
    // opened by link with the period chosen now
    let link = s.get(&format!("/bao-cao/{id}?pe=2025"));
    assert_eq!(link.status, 303);
    let to = link.header("location").unwrap().to_string();
    assert!(
        to.contains("pe%3A2025") && to.contains(&format!("bang={id}")),
        "{to}"
    );
    let opened = s.get(&to);
    assert!(
        opened.body.contains("Dân số DTTS theo xã") && opened.body.contains("Xã Đông Ngũ"),
        "{}",
        opened.body
    );
    let d = s.get("/bang-dieu-khien?unit=22");
    assert_eq!(d.status, 200);
    assert!(
        d.body.contains("Bảng điều khiển: Tỉnh Quảng Ninh")
            && d.body.contains("/api/analytics.svg?"),
        "{}",
        d.body
    );
    // English labels exist for the navigation
    assert!(s.get("/phan-tich?lang=en").body.contains(">Analysis<"));
}

fn choropleth_of_a_pivot(s: Server) {
    write(&s);
    let q = "indicator=0101&period=2025&ou=22;LEVEL-2&method=jenks&classes=3&width=360";
    let r = s.get(&format!("/api/maps/choropleth.svg?{q}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("image/svg+xml")
    );
    // one path per commune of Quảng Ninh, those without figures hatched
    let paths = r.body.matches("<path data-code=").count();
    assert_eq!(paths, 54, "{}", &r.body[..300.min(r.body.len())]);
    assert!(r.body.contains("data-code=\"06877\""));
    assert!(
        r.body.contains("Xã Đông Ngũ: 5.100"),
        "the tooltip says the figure the Vietnamese way"
    );
    assert!(r.body.contains("Không có số liệu"));
    let png = s.admin.get_bytes(&format!("/api/maps/choropleth.png?{q}"));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        s.get("/api/maps/choropleth.svg?indicator=0101&period=2025&method=kmeans")
            .status,
        400
    );
    assert_eq!(
        s.get("/api/maps/choropleth.svg?period=2025").json()["errors"][0]["field"],
        "indicator"
    );
}
