//! The `dantoc` command line as a user runs it, on SQLite and on PostgreSQL.

#[macro_use]
mod common;
use common::{dantoc, text, tmp};

use dantoc_store::testing::TestDb;
use std::path::PathBuf;
use std::process::Command;

on_both_backends!(
    values_round_trip_through_csv,
    bad_file_is_refused_with_row_and_column,
    reference_exports_and_imports,
    audit_verify_finds_a_row_changed_in_the_database,
    first_administrator_and_tokens,
    dhis2_uids_import_all_or_nothing,
);

fn dhis2_uids_import_all_or_nothing(fresh: fn() -> TestDb, name: &str) {
    let db = fresh();
    let dir = tmp(name);
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "kind,code,uid\nindicator,0101,dEpop0101AA\norgUnit,99999,OU99999xxxx\n",
    )
    .unwrap();
    let o = dantoc(&db, &["import", "uids", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("row 3, column 2 (code)") && text(&o).contains("nothing was imported"),
        "{}",
        text(&o)
    );
    let count = || {
        db.read(|c| c.scalar_i64("SELECT count(*) FROM dhis2_uid", &[]))
            .unwrap()
    };
    assert_eq!(count(), 0);
    let good = dir.join("good.csv");
    std::fs::write(
        &good,
        "kind,code,uid\nindicator,0101,dEpop0101AA\norgUnit,06877@2024,OU06877old1\ncategoryOptionCombo,E09.F,COCe09Fem01\n",
    )
    .unwrap();
    let o = dantoc(
        &db,
        &["import", "uids", "--dry-run", good.to_str().unwrap()],
    );
    assert!(
        text(&o).contains("dry run") && text(&o).contains("3 created"),
        "{}",
        text(&o)
    );
    assert_eq!(count(), 0);
    let o = dantoc(&db, &["import", "uids", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("3 created"), "{}", text(&o));
    assert_eq!(count(), 3);
    let o = dantoc(&db, &["import", "uids", good.to_str().unwrap()]);
    assert!(text(&o).contains("3 unchanged"), "{}", text(&o));
}

fn values_round_trip_through_csv(fresh: fn() -> TestDb, name: &str) {
    let (a, b) = (fresh(), fresh());
    let dir = tmp(name);
    let input = dir.join("in.csv");
    std::fs::write(
        &input,
        "indicator,unit,period,disaggregation,value,comment\n\
         0101,06877,2025,E09.F,1234,Bản Khe Lạc\n\
         0101,06877@2024,2024,E02.M,310,\n\
         x-tt-yte,22,2025,,97.5,\"kế hoạch, ước\"\n",
    )
    .unwrap();
    let o = dantoc(&a, &["import", "values", input.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("3 imported"), "{}", text(&o));
    let out = dir.join("out.csv");
    let o = dantoc(&a, &["export", "values", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = dantoc(&b, &["import", "values", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let again = dir.join("again.csv");
    dantoc(&b, &["export", "values", "-o", again.to_str().unwrap()]);
    let strip = |p: &PathBuf| -> Vec<String> {
        // drop stored_by and last_updated, which differ between the two databases
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| {
                let mut r = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(l.as_bytes());
                let rec = r.records().next().unwrap().unwrap();
                rec.iter()
                    .enumerate()
                    .filter(|(i, _)| *i != 7 && *i != 8)
                    .map(|(_, f)| f.to_string())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    };
    let (x, y) = (strip(&out), strip(&again));
    assert_eq!(x.len(), 4);
    assert_eq!(x, y);
    assert!(x.iter().any(|l| l.contains("kế hoạch, ước")));
    // a dry run counts without writing
    let o = dantoc(
        &a,
        &["import", "values", "--dry-run", input.to_str().unwrap()],
    );
    assert!(
        text(&o).contains("dry run") && text(&o).contains("3 ignored"),
        "{}",
        text(&o)
    );
}

fn bad_file_is_refused_with_row_and_column(fresh: fn() -> TestDb, name: &str) {
    let db = fresh();
    let dir = tmp(name);
    let file = dir.join("bad.csv");
    let mut s = String::from("indicator,unit,period,disaggregation,value\n");
    for i in 0..10_000 {
        let v = if i == 4_321 {
            "nhiều".to_string()
        } else {
            i.to_string()
        };
        s.push_str(&format!(
            "0101,06877@2024,{},E{:02}.{},{v}\n",
            2000 + i / 108,
            (i % 54) + 1,
            if i % 108 < 54 { "M" } else { "F" }
        ));
    }
    std::fs::write(&file, s).unwrap();
    let o = dantoc(&db, &["import", "values", file.to_str().unwrap()]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("bad.csv: row 4323, column 5 (value)"), "{t}");
    assert!(t.contains("nothing was imported"), "{t}");
    assert_eq!(db.read(dantoc_store::values::count).unwrap(), 0);
    let o = dantoc(
        &db,
        &[
            "import",
            "values",
            dir.join("missing.csv").to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("cannot open"), "{}", text(&o));
}

fn reference_exports_and_imports(fresh: fn() -> TestDb, name: &str) {
    let db = fresh();
    let dir = tmp(name);
    let units = dir.join("units.csv");
    let o = dantoc(
        &db,
        &[
            "export",
            "units",
            "--version",
            "2024",
            "-o",
            units.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&units).unwrap().lines().count(),
        1 + 63 + 696 + 10_035
    );
    let lineage = dir.join("lineage.csv");
    dantoc(&db, &["export", "lineage", "-o", lineage.to_str().unwrap()]);
    assert!(
        std::fs::read_to_string(&lineage).unwrap().contains(
            "06877,Xã Đông Ngũ,commune,06877,Xã Đông Ngũ,part,part,0.5,default_equal,true"
        )
    );
    let eth = dir.join("eth.csv");
    dantoc(
        &db,
        &[
            "export",
            "ethnic-groups",
            "--code-list",
            "gso1979",
            "-o",
            eth.to_str().unwrap(),
        ],
    );
    assert!(
        std::fs::read_to_string(&eth)
            .unwrap()
            .contains("04,gso1979,06,04,Hoa")
    );
    // the catalogue exports and imports back (as updates), and a province adds an indicator
    let ind = dir.join("ind.csv");
    dantoc(&db, &["export", "indicators", "-o", ind.to_str().unwrap()]);
    let mut cat = std::fs::read_to_string(&ind).unwrap();
    cat.push_str("x-new,Số thôn có nhà văn hóa,Villages with a cultural house,Hạ tầng,thôn,integer,sum,,,yearly,,,,,,,,,,1\n");
    std::fs::write(&ind, cat).unwrap();
    let o = dantoc(&db, &["import", "indicators", ind.to_str().unwrap()]);
    assert!(text(&o).contains("1 created"), "{}", text(&o));
    let bad = dir.join("bad_ind.csv");
    std::fs::write(
        &bad,
        "code,name_vi,value_type,aggregation,period_type\nx-bad,Tên,numbr,sum,yearly\n",
    )
    .unwrap();
    let o = dantoc(&db, &["import", "indicators", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("row 2, column 3 (value_type)"),
        "{}",
        text(&o)
    );
    // villages and lineage weights
    let v = dir.join("villages.csv");
    std::fs::write(
        &v,
        "commune_code,code,name,type\n06877,06877-KL,Khe Lạc,thôn\n06877,06877-NP,Nà Pá,bản\n",
    )
    .unwrap();
    let o = dantoc(&db, &["import", "villages", v.to_str().unwrap()]);
    assert!(text(&o).contains("2 created"), "{}", text(&o));
    let w = dir.join("weights.csv");
    std::fs::write(
        &w,
        "old_code,new_code,weight\n06877,06862,0.25\n06877,06877,0.75\n",
    )
    .unwrap();
    let o = dantoc(&db, &["import", "lineage-weights", w.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(
        &w,
        "old_code,new_code,weight\n06877,06862,0.5\n06877,06877,0.75\n",
    )
    .unwrap();
    let o = dantoc(&db, &["import", "lineage-weights", w.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("add up to 1"), "{}", text(&o));
}

fn audit_verify_finds_a_row_changed_in_the_database(fresh: fn() -> TestDb, name: &str) {
    let db = fresh();
    // entries written when the database was set up (the shipped forms)
    let base = db
        .read(|c| c.scalar_i64("SELECT count(*) FROM audit_log", &[]))
        .unwrap();
    let dir = tmp(name);
    let w = dir.join("weights.csv");
    std::fs::write(
        &w,
        "old_code,new_code,weight\n06877,06862,0.25\n06877,06877,0.75\n",
    )
    .unwrap();
    assert!(
        dantoc(&db, &["import", "lineage-weights", w.to_str().unwrap()])
            .status
            .success()
    );
    let v = dir.join("villages.csv");
    std::fs::write(&v, "commune_code,code,name\n06877,06877-KL,Khe Lạc\n").unwrap();
    assert!(
        dantoc(&db, &["import", "villages", v.to_str().unwrap()])
            .status
            .success()
    );
    let o = dantoc(&db, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("intact: {} entries", base + 2)),
        "{}",
        text(&o)
    );
    // someone with database access disables the guard and edits the first entry
    db.write(|c| {
        match c.backend() {
            dantoc_store::Backend::Sqlite => c.batch("DROP TRIGGER audit_log_no_update")?,
            dantoc_store::Backend::Postgres => c.batch("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")?,
        }
        c.execute("UPDATE audit_log SET actor = 'someone-else' WHERE id = (SELECT min(id) FROM audit_log)", &[])
    })
    .unwrap();
    let first = db
        .read(|c| c.scalar_i64("SELECT min(id) FROM audit_log", &[]))
        .unwrap();
    let o = dantoc(&db, &["audit", "verify"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!("broken at entry {first}")),
        "{}",
        text(&o)
    );
}

fn first_administrator_and_tokens(fresh: fn() -> TestDb, _name: &str) {
    let db = fresh();
    let with_stdin = |args: &[&str], input: &str| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_dantoc"))
            .arg("--database")
            .arg(&db.url)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let o = with_stdin(
        &["user", "create", "--admin", "quan-tri", "--password-stdin"],
        "123456\n",
    );
    assert!(!o.status.success(), "a weak password is refused");
    assert!(text(&o).contains("at least 10 characters"), "{}", text(&o));
    let o = with_stdin(
        &["user", "create", "--admin", "quan-tri", "--password-stdin"],
        "Quản-trị-2025!\n",
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = with_stdin(
        &[
            "user",
            "create",
            "can-bo",
            "--role",
            "commune_officer",
            "--scope",
            "99999",
            "--password-stdin",
        ],
        "Cán-bộ-xã-2025\n",
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("scopes"), "{}", text(&o));
    let o = dantoc(
        &db,
        &[
            "token", "create", "--user", "quan-tri", "--name", "hub sync", "--write",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let token = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(token.starts_with("dt_"));
    let (user, _) = db
        .read(|c| dantoc_store::accounts::token(c, &token))
        .unwrap()
        .unwrap();
    assert_eq!(user.username, "quan-tri");
    let o = dantoc(&db, &["token", "list"]);
    assert!(
        text(&o).contains("hub sync") && !text(&o).contains(&token),
        "lists never show the token"
    );
    assert!(dantoc(&db, &["token", "revoke", "1"]).status.success());
    assert!(
        db.read(|c| dantoc_store::accounts::token(c, &token))
            .unwrap()
            .is_none()
    );
}
