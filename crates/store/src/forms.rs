//! Reporting forms (biểu mẫu): stored definitions, checked against the catalogue, every change
//! audited; the forms the product ships for its catalogue's indicators.

use crate::audit::{self, Actor};
use crate::db::{Backend, Conn, Db, Row, Val};
use crate::error::StoreError;
use crate::params;
use dantoc_domain::FieldError;
use dantoc_domain::ethnic::CodeList;
use dantoc_domain::form::Form;
use dantoc_domain::text::{clean, fold};
use serde::Serialize;
use std::collections::HashMap;

/// A stored form.
#[derive(Debug, Clone, Serialize)]
pub struct StoredForm {
    pub id: i64,
    #[serde(flatten)]
    pub form: Form,
    pub updated_at: String,
    pub updated_by: String,
}

const COLS: &str = "id, definition, updated_at, updated_by";

fn from_row(r: &Row) -> Result<StoredForm, StoreError> {
    let form: Form = serde_json::from_str(&r.str(1))
        .map_err(|e| StoreError::Db(format!("form {} is stored unreadable: {e}", r.i64(0))))?;
    Ok(StoredForm {
        id: r.i64(0),
        form,
        updated_at: r.str(2),
        updated_by: r.str(3),
    })
}

/// Every form, in code order; `q` keeps those whose code or name contains every word of it
/// (case and diacritics ignored).
pub fn list(c: &mut dyn Conn, q: &str) -> Result<Vec<StoredForm>, StoreError> {
    // codes are upper case, the folded words lower case (PostgreSQL's LIKE minds the case)
    let (filter, p) = crate::units::folded_filter(q, "LOWER(code) || ' ' || name_folded");
    c.query(
        &format!("SELECT {COLS} FROM form WHERE {filter} ORDER BY code"),
        &p,
    )?
    .iter()
    .map(from_row)
    .collect()
}

pub fn get(c: &mut dyn Conn, code: &str) -> Result<Option<StoredForm>, StoreError> {
    c.query_one(
        &format!("SELECT {COLS} FROM form WHERE code = $1"),
        &params![code],
    )?
    .map(|r| from_row(&r))
    .transpose()
}

pub fn require(c: &mut dyn Conn, code: &str) -> Result<StoredForm, StoreError> {
    get(c, code)?.ok_or_else(|| StoreError::NotFound(format!("no form {code:?}")))
}

/// Clean the texts of a definition (NFC, trimmed).
fn cleaned(mut f: Form) -> Form {
    f.code = f.code.trim().to_string();
    f.name_vi = clean(&f.name_vi);
    f.name_en = clean(&f.name_en);
    for s in &mut f.sections {
        s.title_vi = clean(&s.title_vi);
        s.title_en = clean(&s.title_en);
        for it in &mut s.items {
            it.indicator = it.indicator.trim().to_string();
            it.ethnic_groups = it
                .ethnic_groups
                .iter()
                .map(|e| e.trim().to_string())
                .collect();
        }
    }
    f
}

/// Check a definition against the catalogue; returns the indicator ids it holds.
fn check(c: &mut dyn Conn, f: &Form) -> Result<Vec<i64>, StoreError> {
    let catalogue: HashMap<String, (i64, dantoc_domain::indicator::Indicator)> =
        crate::indicators::list(c)?
            .into_iter()
            .map(|(id, i)| (i.code.clone(), (id, i)))
            .collect();
    let ethnic: Vec<String> = crate::ethnic::list(c, CodeList::Gso2008)?
        .into_iter()
        .map(|g| g.code_2008)
        .collect();
    let problems = f.validate(&|code| catalogue.get(code).map(|(_, i)| i.clone()), &|e| {
        ethnic.iter().any(|g| g == e)
    });
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    Ok(f.indicators()
        .filter_map(|it| catalogue.get(&it.indicator).map(|(id, _)| *id))
        .collect())
}

/// Create the form `code`, or replace its definition. Returns the stored form and whether it
/// was created.
pub fn put(
    c: &mut dyn Conn,
    actor: &Actor,
    code: &str,
    form: Form,
) -> Result<(StoredForm, bool), StoreError> {
    let form = cleaned(form);
    if form.code != code {
        return Err(StoreError::invalid(
            FieldError::new(
                "code",
                format!("the form's code must be the one in the address ({code})"),
            )
            .value(&form.code),
        ));
    }
    let ids = check(c, &form)?;
    let before = get(c, code)?;
    let now = crate::clock::now();
    let definition =
        serde_json::to_string(&form).map_err(|e| StoreError::Db(format!("form JSON: {e}")))?;
    let folded = fold(&format!("{} {}", form.name_vi, form.name_en));
    let id = match &before {
        Some(b) => {
            c.execute(
                "UPDATE form SET name_vi = $1, name_folded = $2, period_type = $3, level = $4,
                        definition = $5, updated_at = $6, updated_by = $7 WHERE id = $8",
                &[
                    Val::from(form.name_vi.as_str()),
                    Val::from(folded.as_str()),
                    Val::from(form.period_type.as_str()),
                    Val::from(form.level.as_str()),
                    Val::from(definition.as_str()),
                    Val::from(now.as_str()),
                    Val::from(actor.name.as_str()),
                    Val::Int(b.id),
                ],
            )?;
            c.execute(
                "DELETE FROM form_indicator WHERE form_id = $1",
                &[Val::Int(b.id)],
            )?;
            b.id
        }
        None => c
            .query(
                "INSERT INTO form (code, name_vi, name_folded, period_type, level, definition,
                                   created_at, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) RETURNING id",
                &[
                    Val::from(code),
                    Val::from(form.name_vi.as_str()),
                    Val::from(folded.as_str()),
                    Val::from(form.period_type.as_str()),
                    Val::from(form.level.as_str()),
                    Val::from(definition.as_str()),
                    Val::from(now.as_str()),
                    Val::from(actor.name.as_str()),
                ],
            )?
            .first()
            .map(|r| r.i64(0))
            .ok_or_else(|| StoreError::Db("INSERT INTO form returned no id".into()))?,
    };
    for ind in ids {
        c.execute(
            "INSERT INTO form_indicator (form_id, indicator_id) VALUES ($1, $2)",
            &[Val::Int(id), Val::Int(ind)],
        )?;
    }
    let after = require(c, code)?;
    audit::record(
        c,
        actor,
        if before.is_some() { "update" } else { "create" },
        "form",
        code,
        before
            .as_ref()
            .map(|b| serde_json::to_value(&b.form).unwrap_or_default())
            .as_ref(),
        Some(&serde_json::to_value(&after.form).unwrap_or_default()),
    )?;
    Ok((after, before.is_none()))
}

/// Remove a form.
pub fn delete(c: &mut dyn Conn, actor: &Actor, code: &str) -> Result<(), StoreError> {
    let before = require(c, code)?;
    c.execute("DELETE FROM form WHERE id = $1", &[Val::Int(before.id)])?;
    audit::record(
        c,
        actor,
        "delete",
        "form",
        code,
        Some(&serde_json::to_value(&before.form).unwrap_or_default()),
        None,
    )
}

/// An indicator's code changed (a provisional code replaced by an official one): the forms that
/// hold it follow.
pub(crate) fn rename_indicator(c: &mut dyn Conn, old: &str, new: &str) -> Result<(), StoreError> {
    let rows = c.query(
        &format!(
            "SELECT {COLS} FROM form WHERE id IN (SELECT fi.form_id FROM form_indicator fi
               JOIN indicator i ON i.id = fi.indicator_id WHERE i.code = $1)"
        ),
        &params![new],
    )?;
    for r in rows {
        let mut f = from_row(&r)?;
        for s in &mut f.form.sections {
            for it in &mut s.items {
                if it.indicator == old {
                    it.indicator = new.to_string();
                }
            }
        }
        let definition = serde_json::to_string(&f.form)
            .map_err(|e| StoreError::Db(format!("form JSON: {e}")))?;
        c.execute(
            "UPDATE form SET definition = $1 WHERE id = $2",
            &[Val::from(definition.as_str()), Val::Int(f.id)],
        )?;
    }
    Ok(())
}

/// Codes of the forms that hold an indicator.
pub fn holding(c: &mut dyn Conn, indicator: &str) -> Result<Vec<String>, StoreError> {
    Ok(c.query(
        "SELECT f.code FROM form f
           JOIN form_indicator fi ON fi.form_id = f.id
           JOIN indicator i ON i.id = fi.indicator_id
          WHERE i.code = $1 ORDER BY f.code",
        &params![indicator],
    )?
    .iter()
    .map(|r| r.str(0))
    .collect())
}

/// The ethnic groups (GSO 2008 codes) present in a unit: those that any value of the unit
/// (any indicator, any period) is broken down by, in code order.
/// Read through the index `data_value_unit` (unit, disaggregation): no scan of the values.
pub fn ethnic_present(c: &mut dyn Conn, unit_id: i64) -> Result<Vec<String>, StoreError> {
    Ok(c.query(ETHNIC_PRESENT, &[Val::Int(unit_id)])?
        .iter()
        .map(|r| r.str(0))
        .collect())
}

const ETHNIC_PRESENT: &str = "SELECT DISTINCT d.ethnic_code FROM data_value v
       JOIN disaggregation d ON d.id = v.disagg_id
      WHERE v.unit_id = $1 AND d.ethnic_code IS NOT NULL
      ORDER BY d.ethnic_code";

/// The shipped forms as JSON (part of the test databases' fingerprint).
pub const SHIPPED_JSON: &str = include_str!("../seed/forms.json");

/// The forms the product ships (seed/forms.json): the reporting forms for the catalogue's
/// indicators that communes report every year.
pub fn shipped() -> Result<Vec<Form>, String> {
    serde_json::from_str(SHIPPED_JSON).map_err(|e| format!("seed/forms.json: {e}"))
}

/// Store the shipped forms once, on a database that never had them; a province that later
/// changes or removes them keeps its choice.
pub fn load_defaults(db: &Db) -> Result<bool, StoreError> {
    db.write(|c| {
        if c.backend() == Backend::Postgres {
            c.query("SELECT pg_advisory_xact_lock(4242006)", &[])?;
        }
        if c.query_one("SELECT value FROM meta WHERE key = 'default_forms'", &[])?
            .is_some()
        {
            return Ok(false);
        }
        let actor = Actor::system();
        for f in shipped().map_err(StoreError::Db)? {
            let code = f.code.clone();
            if get(c, &code)?.is_none() {
                put(c, &actor, &code, f)?;
            }
        }
        c.execute(
            "INSERT INTO meta (key, value) VALUES ('default_forms', '1')",
            &[],
        )?;
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::on_both_backends;
    use crate::testing::TestDb;
    use dantoc_domain::form::Axis;

    on_both_backends!(
        shipped_forms_are_stored_once_and_valid,
        a_wrong_form_changes_nothing_and_names_its_place,
        changes_are_audited,
        ethnic_groups_present_are_read_through_the_unit_index
    );

    fn shipped_forms_are_stored_once_and_valid(db: &TestDb) {
        let forms = db.db.read(|c| list(c, "")).unwrap();
        assert!(forms.len() >= 2, "{forms:?}");
        assert_eq!(
            forms.len(),
            shipped().unwrap().len(),
            "every shipped form stored"
        );
        assert!(!load_defaults(&db.db).unwrap(), "loaded once only");
        let holding = db.db.read(|c| holding(c, "0101")).unwrap();
        assert!(!holding.is_empty());
        let found = db.db.read(|c| list(c, "dan so")).unwrap();
        assert!(!found.is_empty(), "search ignores diacritics");
    }

    fn a_wrong_form_changes_nothing_and_names_its_place(db: &TestDb) {
        let mut f = shipped().unwrap().remove(0);
        let before = db.db.read(|c| require(c, &f.code)).unwrap();
        f.name_vi = "Đổi tên".into();
        f.sections[0].items[0].indicator = "khong-co".into();
        f.sections[0].items.push(dantoc_domain::form::FormItem {
            indicator: "x-cnscd-to".into(),
            rows: Axis::Ethnic,
            columns: Axis::None,
            required: false,
            ethnic_groups: vec![],
        });
        let code = f.code.clone();
        let e = db
            .db
            .write(|c| put(c, &Actor::system(), &code, f.clone()))
            .unwrap_err();
        let StoreError::Invalid(p) = e else {
            panic!("{e}")
        };
        assert!(
            p.0.iter()
                .any(|e| e.field == "sections[0].items[0].indicator"),
            "{p}"
        );
        let after = db.db.read(|c| require(c, &code)).unwrap();
        assert_eq!(before.form, after.form, "nothing changed");
    }

    fn changes_are_audited(db: &TestDb) {
        let mut f = shipped().unwrap().remove(0);
        f.code = "BM-THU".into();
        f.name_vi = "  Biểu thử  ".into();
        let actor = Actor {
            name: "tinh".into(),
            origin: "test".into(),
        };
        let (stored, created) = db
            .db
            .write(|c| put(c, &actor, "BM-THU", f.clone()))
            .unwrap();
        assert!(created);
        assert_eq!(stored.form.name_vi, "Biểu thử");
        f.deadline_days = 30;
        let (_, created) = db
            .db
            .write(|c| put(c, &actor, "BM-THU", f.clone()))
            .unwrap();
        assert!(!created);
        db.db.write(|c| delete(c, &actor, "BM-THU")).unwrap();
        assert!(db.db.read(|c| get(c, "BM-THU")).unwrap().is_none());
        let actions: Vec<String> = db
            .db
            .read(|c| {
                Ok(c.query(
                    "SELECT action FROM audit_log WHERE entity = 'form' AND entity_key = 'BM-THU' ORDER BY id",
                    &[],
                )?
                .iter()
                .map(|r| r.str(0))
                .collect())
            })
            .unwrap();
        assert_eq!(actions, ["create", "update", "delete"]);
    }

    /// `ethnic_present` finds a unit's values through `data_value_unit` (0012_value_unit.sql),
    /// not by a scan of every value: the plan of its query on each engine names the index. On
    /// PostgreSQL a test database's few values would be read faster by a scan, so scans are
    /// turned off for the plan: what is shown is that the index serves the query.
    fn ethnic_groups_present_are_read_through_the_unit_index(db: &TestDb) {
        let unit = db
            .db
            .read(|c| {
                c.scalar_i64(
                    "SELECT id FROM admin_unit WHERE code = '06877' AND version = '2025'",
                    &[],
                )
            })
            .unwrap();
        let plan = db
            .db
            .transaction(false, |c| {
                let rows = match c.backend() {
                    Backend::Sqlite => c
                        .query(
                            &format!("EXPLAIN QUERY PLAN {ETHNIC_PRESENT}"),
                            &[Val::Int(unit)],
                        )?
                        .iter()
                        .map(|r| r.str(3))
                        .collect::<Vec<_>>(),
                    Backend::Postgres => {
                        c.batch(
                            "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off",
                        )?;
                        c.query(&format!("EXPLAIN {ETHNIC_PRESENT}"), &[Val::Int(unit)])?
                            .iter()
                            .map(|r| r.str(0))
                            .collect()
                    }
                };
                Ok(rows.join("\n"))
            })
            .unwrap();
        assert!(plan.contains("data_value_unit"), "{plan}");
        assert!(!plan.contains("SCAN v"), "no scan of the values: {plan}");
        // and it answers as before: the unit's ethnic groups, in code order
        let found = db.db.read(|c| ethnic_present(c, unit)).unwrap();
        let mut sorted = found.clone();
        sorted.sort();
        assert_eq!(found, sorted);
        assert!(db.db.read(|c| ethnic_present(c, -1)).unwrap().is_empty());
        // SQLite: a value looked up by its whole key while others are read — the analytics'
        // refresh of province aggregates, with the weight of each value (analytics.rs) — is
        // still found by the primary key, not by a search of the new index then of the table:
        // a SQLite index holds the primary key's columns too (see 0012_value_unit.sql).
        // PostgreSQL's holds only its own: the unique primary key is the one full match.
        if db.backend() == Backend::Sqlite {
            let plan = db
                .db
                .read(|c| {
                    Ok(c.query(
                        "EXPLAIN QUERY PLAN
                         SELECT d.indicator_id, d.period, r.ancestor_id, d.disagg_id, r.direct,
                                SUM(d.value * r.weight), COALESCE(SUM(d.value * w.value * r.weight), 0)
                         FROM data_value d
                         JOIN unit_rollup r ON r.unit_id = d.unit_id
                         JOIN admin_unit a ON a.id = r.ancestor_id AND a.version = '2025' AND a.kind = 'province'
                         JOIN indicator i ON i.id = d.indicator_id
                         LEFT JOIN indicator wi ON wi.code = i.weight_indicator
                         LEFT JOIN data_value w ON w.indicator_id = wi.id AND w.month_start = d.month_start
                              AND w.unit_id = d.unit_id AND w.disagg_id = d.disagg_id AND w.period = d.period
                         WHERE d.indicator_id = $1 AND d.month_start IN (24300) AND d.period = $2
                           AND d.value IS NOT NULL
                         GROUP BY d.indicator_id, d.period, r.ancestor_id, d.disagg_id, r.direct",
                        &[Val::Int(1), Val::from("2025")],
                    )?
                    .iter()
                    .map(|r| r.str(3))
                    .collect::<Vec<_>>()
                    .join("\n"))
                })
                .unwrap();
            assert!(
                plan.lines()
                    .any(|l| l.contains("SEARCH w USING PRIMARY KEY")),
                "{plan}"
            );
        }
    }
}
