//! Approval of reporting forms per form × unit × period (issue #4): the workflow's state
//! (`form_approval`, a missing row is a draft), every step kept (`form_approval_step`) and
//! audited with the state before and after; the completeness report (which units submitted,
//! on time or late) and the overdue list; and [`Locks`], the (indicator, unit, period) keys
//! whose values no import may write while their form is submitted, approved or locked.
//!
//! Who may take a step is the domain's rule ([`dantoc_domain::approval`]); the store supplies
//! the facts: whether the unit lies in the actor's scope and whether one of the actor's scope
//! units lies above it.

use crate::audit::{self, Actor};
use crate::db::{Backend, Conn, Row, Val};
use crate::error::StoreError;
use crate::forms::{self, StoredForm};
use crate::params;
use dantoc_domain::access::Role;
use dantoc_domain::admin::{HierarchyVersion, UnitKind};
use dantoc_domain::approval::{self as flow, Refusal, State, Step, Timeliness, Who};
use dantoc_domain::form::Axis;
use dantoc_domain::period::{Period, add_days};
use dantoc_domain::text::clean;
use dantoc_domain::{FieldError, Problems};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// PostgreSQL advisory lock: steps take it exclusively, imports of values shared (see
/// [`Locks::still_current`]), so that no import writes under a form that was just submitted.
const ADVISORY_KEY: i64 = 4_242_009;

/// Longest comment on a step.
pub const MAX_COMMENT: usize = 2000;

/// Who is acting: their role, and their administrative units (`global`: everywhere).
#[derive(Debug, Clone)]
pub struct Acting {
    pub role: Role,
    pub global: bool,
    pub scope: Vec<i64>,
}

/// A form's approval for one unit and period, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    #[serde(skip)]
    pub unit_id: i64,
    #[serde(skip)]
    pub unit_kind: UnitKind,
    pub form: String,
    pub form_name: String,
    pub unit: String,
    pub unit_version: HierarchyVersion,
    pub unit_name: String,
    pub period: String,
    pub state: State,
    /// The state in Vietnamese.
    pub state_label: &'static str,
    /// The comment of the last step (a return's reason).
    pub comment: Option<String>,
    pub submitted_at: Option<String>,
    pub submitted_by: Option<String>,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub updated_at: String,
    pub updated_by: String,
    /// The day the form is due (`YYYY-MM-DD`).
    pub deadline: String,
    /// Whether the last submission met the deadline (Vietnam's date of the submission).
    pub on_time: Option<bool>,
}

/// A step asked for.
#[derive(Debug, Clone)]
pub struct StepRequest {
    pub form: String,
    /// Unit code: `CODE` in the hierarchy in force at the end of the period, or `CODE@VERSION`.
    pub unit: String,
    pub period: String,
    pub step: Step,
    pub comment: Option<String>,
}

/// The date in Vietnam (UTC+7, no daylight saving) of a stored UTC instant.
pub fn local_date(at: &str) -> Option<String> {
    let date = at.get(..10)?;
    let hour: u32 = at.get(11..13)?.parse().ok()?;
    if hour >= 17 {
        add_days(date, 1)
    } else {
        Some(date.to_string())
    }
}

fn kind_rank(k: UnitKind) -> u8 {
    match k {
        UnitKind::Province => 0,
        UnitKind::District => 1,
        UnitKind::Commune => 2,
        UnitKind::Village => 3,
    }
}

/// The form, unit and period a step or report is about.
struct Target {
    form: StoredForm,
    unit_id: i64,
    unit_code: String,
    unit_version: HierarchyVersion,
    unit_name: String,
    unit_kind: UnitKind,
    period: Period,
}

fn parse_period(field: &str, text: &str) -> Result<Period, StoreError> {
    text.trim()
        .parse()
        .map_err(|e: dantoc_domain::period::PeriodError| {
            StoreError::invalid(FieldError::new(field, e.to_string()).value(text))
        })
}

struct UnitInfo {
    code: String,
    version: HierarchyVersion,
    name: String,
    kind: UnitKind,
}

fn unit_info(c: &mut dyn Conn, id: i64) -> Result<UnitInfo, StoreError> {
    let r = c
        .query_one(
            "SELECT code, version, full_name, kind FROM admin_unit WHERE id = $1",
            &params![id],
        )?
        .ok_or_else(|| StoreError::NotFound(format!("administrative unit #{id}")))?;
    Ok(UnitInfo {
        code: r.str(0),
        version: r.str(1).parse().unwrap_or(HierarchyVersion::CURRENT),
        name: r.str(2),
        kind: r.str(3).parse().unwrap_or(UnitKind::Commune),
    })
}

/// The unit named for a period (`CODE` in the hierarchy in force at its end, or `CODE@V`).
fn resolve_unit(
    c: &mut dyn Conn,
    field: &str,
    unit: &str,
    period: &Period,
) -> Result<(i64, UnitInfo), StoreError> {
    let unit = unit.trim();
    let id = crate::values::unit_of(c, unit, &period.to_string())?.ok_or_else(|| {
        StoreError::invalid(
            FieldError::new(
                field,
                format!(
                    "no administrative unit has this code in the {} hierarchy (the one in force at the end of period {period})",
                    HierarchyVersion::on(&period.end_date())
                ),
            )
            .value(unit),
        )
    })?;
    Ok((id, unit_info(c, id)?))
}

fn target(c: &mut dyn Conn, form: &str, unit: &str, period: &str) -> Result<Target, StoreError> {
    let form = forms::require(c, form.trim())?;
    let period = parse_period("period", period)?;
    form.form
        .accepts(&period)
        .map_err(|e| StoreError::invalid(FieldError::new("period", e).value(period.to_string())))?;
    let (unit_id, u) = resolve_unit(c, "orgUnit", unit, &period)?;
    if u.kind != form.form.level {
        return Err(StoreError::invalid(
            FieldError::new(
                "orgUnit",
                format!(
                    "form {} is reported by each {}, and {} is a {}",
                    form.form.code,
                    form.form.level.as_str(),
                    u.code,
                    u.kind.as_str()
                ),
            )
            .value(unit),
        ));
    }
    Ok(Target {
        form,
        unit_id,
        unit_code: u.code,
        unit_version: u.version,
        unit_name: u.name,
        unit_kind: u.kind,
        period,
    })
}

/// What the store knows of an actor's scope, to say where units lie for them ([`Who`]):
/// each scope unit's tier and the units it covers (both hierarchies).
pub struct ScopeFacts {
    role: Role,
    global: bool,
    scopes: Vec<(u8, HashSet<i64>)>,
}

impl ScopeFacts {
    pub fn load(c: &mut dyn Conn, acting: &Acting) -> Result<ScopeFacts, StoreError> {
        let mut scopes = vec![];
        if !acting.global {
            for s in &acting.scope {
                let rank = kind_rank(unit_info(c, *s)?.kind);
                scopes.push((rank, crate::accounts::allowed_units(c, &[*s])?));
            }
        }
        Ok(ScopeFacts {
            role: acting.role,
            global: acting.global,
            scopes,
        })
    }

    /// Where a unit lies for the actor: in their scope, and below one of their scope units.
    pub fn who(&self, unit_id: i64, unit_kind: UnitKind) -> Who {
        if self.global {
            return Who::global(self.role);
        }
        let covering = self.scopes.iter().filter(|(_, set)| set.contains(&unit_id));
        let mut w = Who {
            role: self.role,
            in_scope: false,
            above: false,
        };
        for (rank, _) in covering {
            w.in_scope = true;
            w.above |= *rank < kind_rank(unit_kind);
        }
        w
    }

    /// The steps the actor may take on an approval now (its state allows them, and they may).
    pub fn steps(&self, a: &Approval) -> Vec<Step> {
        let who = self.who(a.unit_id, a.unit_kind);
        Step::ALL
            .into_iter()
            .filter(|s| s.from_states().contains(&a.state) && flow::may(*s, &who).is_ok())
            .collect()
    }
}

fn refused(e: flow::Refused) -> StoreError {
    match e.kind {
        Refusal::NotAllowed => StoreError::Forbidden(e.message()),
        Refusal::WrongState => StoreError::Conflict(e.message()),
        Refusal::CommentNeeded => StoreError::invalid(FieldError::new("comment", e.message())),
    }
}

const SELECT: &str = "SELECT f.code, f.name_vi, f.definition, u.code, u.version, u.full_name, a.period, a.state,
        a.comment, a.submitted_at, a.submitted_by, a.decided_at, a.decided_by, a.updated_at, a.updated_by, a.id,
        a.unit_id, u.kind
   FROM form_approval a JOIN form f ON f.id = a.form_id JOIN admin_unit u ON u.id = a.unit_id";

fn from_row(r: &Row) -> Approval {
    let state: State = r.str(7).parse().unwrap_or_default();
    let period: Option<Period> = r.str(6).parse().ok();
    let deadline = serde_json::from_str::<dantoc_domain::form::Form>(&r.str(2))
        .ok()
        .zip(period)
        .map(|(f, p)| f.deadline(&p))
        .unwrap_or_default();
    let submitted_at = r.opt_str(9);
    let on_time = submitted_at
        .as_deref()
        .filter(|_| state.is_submitted())
        .and_then(local_date)
        .map(|d| flow::on_time(&d, &deadline));
    Approval {
        unit_id: r.i64(16),
        unit_kind: r.str(17).parse().unwrap_or(UnitKind::Commune),
        form: r.str(0),
        form_name: r.str(1),
        unit: r.str(3),
        unit_version: r.str(4).parse().unwrap_or(HierarchyVersion::CURRENT),
        unit_name: r.str(5),
        period: r.str(6),
        state,
        state_label: state.label_vi(),
        comment: r.opt_str(8),
        submitted_at,
        submitted_by: r.opt_str(10),
        decided_at: r.opt_str(11),
        decided_by: r.opt_str(12),
        updated_at: r.str(13),
        updated_by: r.str(14),
        deadline,
        on_time,
    }
}

fn stored(c: &mut dyn Conn, t: &Target) -> Result<Option<(i64, Approval)>, StoreError> {
    Ok(c.query_one(
        &format!("{SELECT} WHERE a.form_id = $1 AND a.unit_id = $2 AND a.period = $3"),
        &params![t.form.id, t.unit_id, t.period.to_string()],
    )?
    .map(|r| (r.i64(15), from_row(&r))))
}

/// The approval of a form for a unit and period (a draft when nothing was done yet).
pub fn get(c: &mut dyn Conn, form: &str, unit: &str, period: &str) -> Result<Approval, StoreError> {
    let t = target(c, form, unit, period)?;
    Ok(match stored(c, &t)? {
        Some((_, a)) => a,
        None => draft(&t),
    })
}

fn draft(t: &Target) -> Approval {
    Approval {
        unit_id: t.unit_id,
        unit_kind: t.unit_kind,
        form: t.form.form.code.clone(),
        form_name: t.form.form.name_vi.clone(),
        unit: t.unit_code.clone(),
        unit_version: t.unit_version,
        unit_name: t.unit_name.clone(),
        period: t.period.to_string(),
        state: State::Draft,
        state_label: State::Draft.label_vi(),
        comment: None,
        submitted_at: None,
        submitted_by: None,
        decided_at: None,
        decided_by: None,
        updated_at: String::new(),
        updated_by: String::new(),
        deadline: t.form.form.deadline(&t.period),
        on_time: None,
    }
}

/// One cell of a form's grid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Cell {
    pub indicator: String,
    pub disaggregation: String,
}

/// The required items of a form whose rows are the ethnic groups present in the unit, when
/// the unit has none yet (no value of any indicator broken down by ethnic group): such an item
/// has no cells, and its rows must be added before the form can be submitted — every commune
/// has at least one ethnic group, so an empty grid is not a report. `present`: as
/// [`forms::ethnic_present`].
pub fn ethnic_rows_missing(form: &StoredForm, present: &[String]) -> Vec<String> {
    if !present.is_empty() {
        return vec![];
    }
    form.form
        .indicators()
        .filter(|i| i.required && i.rows == Axis::Ethnic && i.ethnic_groups.is_empty())
        .map(|i| i.indicator.clone())
        .collect()
}

/// The required cells of a form that have no value for a unit and period, in form order.
/// (A required grid of the ethnic groups present has no cells while the unit has none: see
/// [`ethnic_rows_missing`].)
pub fn missing_required(
    c: &mut dyn Conn,
    form: &StoredForm,
    unit_id: i64,
    period: &Period,
) -> Result<Vec<Cell>, StoreError> {
    let required: Vec<_> = form.form.indicators().filter(|i| i.required).collect();
    if required.is_empty() {
        return Ok(vec![]);
    }
    let present = if required
        .iter()
        .any(|i| i.rows == Axis::Ethnic && i.ethnic_groups.is_empty())
    {
        forms::ethnic_present(c, unit_id)?
    } else {
        vec![]
    };
    let filled: HashSet<(String, String)> = c
        .query(
            "SELECT i.code, g.code FROM data_value d
               JOIN form_indicator fi ON fi.indicator_id = d.indicator_id
               JOIN indicator i ON i.id = d.indicator_id
               JOIN disaggregation g ON g.id = d.disagg_id
              WHERE fi.form_id = $1 AND d.month_start = $2 AND d.unit_id = $3 AND d.period = $4",
            &params![
                form.id,
                period.month_range().0 as i64,
                unit_id,
                period.to_string()
            ],
        )?
        .iter()
        .map(|r| (r.str(0), r.str(1)))
        .collect();
    let mut missing = vec![];
    for it in required {
        for d in it.cells(&present) {
            let code = d.code();
            if !filled.contains(&(it.indicator.clone(), code.clone())) {
                missing.push(Cell {
                    indicator: it.indicator.clone(),
                    disaggregation: code,
                });
            }
        }
    }
    Ok(missing)
}

/// Take a step on a form's approval for a unit and period: checked against who may (403),
/// the state (409), a return's comment and, for a submission, the form's required cells (400,
/// each missing cell named); kept in `form_approval_step` and audited with before and after.
pub fn transition(
    c: &mut dyn Conn,
    actor: &Actor,
    acting: &Acting,
    req: &StepRequest,
) -> Result<Approval, StoreError> {
    if c.backend() == Backend::Postgres {
        // one step at a time, and none while an import is writing (imports take it shared)
        c.query("SELECT pg_advisory_xact_lock($1)", &params![ADVISORY_KEY])?;
    }
    let t = target(c, &req.form, &req.unit, &req.period)?;
    let comment = req.comment.as_deref().map(clean).filter(|s| !s.is_empty());
    if comment
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_COMMENT)
    {
        return Err(StoreError::invalid(FieldError::new(
            "comment",
            format!(
                "ý kiến dài quá {MAX_COMMENT} ký tự (the comment is longer than {MAX_COMMENT} characters)"
            ),
        )));
    }
    let before = stored(c, &t)?;
    let from = before.as_ref().map(|(_, a)| a.state).unwrap_or_default();
    let w = ScopeFacts::load(c, acting)?.who(t.unit_id, t.unit_kind);
    let to = flow::transition(from, req.step, &w, comment.as_deref()).map_err(refused)?;
    if req.step == Step::Submit {
        let missing = missing_required(c, &t.form, t.unit_id, &t.period)?;
        let no_rows = if t
            .form
            .form
            .indicators()
            .any(|i| i.required && i.rows == Axis::Ethnic && i.ethnic_groups.is_empty())
        {
            ethnic_rows_missing(&t.form, &forms::ethnic_present(c, t.unit_id)?)
        } else {
            vec![]
        };
        if !missing.is_empty() || !no_rows.is_empty() {
            let code = &t.form.form.code;
            let rows = no_rows.iter().map(|ind| {
                FieldError::new(
                    "required_row",
                    format!(
                        "biểu {code}, chỉ tiêu {ind}: đơn vị chưa có dòng dân tộc nào — thêm dòng cho các dân tộc có trong đơn vị rồi nhập số liệu (form {code}, indicator {ind}: no ethnic group row yet — add a row for each ethnic group in the unit and fill it in)"
                    ),
                )
                .value(ind.clone())
            });
            let cells = missing.iter().map(|m| {
                FieldError::new(
                    "required_cell",
                    format!(
                        "biểu {code} chưa nhập ô bắt buộc: chỉ tiêu {}, phân tổ {} (form {code}: required cell is empty)",
                        m.indicator, m.disaggregation
                    ),
                )
                .value(format!("{}/{}", m.indicator, m.disaggregation))
            });
            return Err(StoreError::Invalid(Problems(rows.chain(cells).collect())));
        }
        // the error-level validation rules over the form's indicators must hold for the unit
        // and period, as an import would have required of each value
        let on_form: std::collections::HashSet<&str> = t
            .form
            .form
            .indicators()
            .map(|i| i.indicator.as_str())
            .collect();
        let rules: Vec<String> = crate::validation::list(c)?
            .iter()
            .filter_map(|d| dantoc_domain::validation::Rule::parse(d).ok())
            .filter(|r| {
                r.importance() == dantoc_domain::validation::Importance::Error
                    && r.references().iter().any(|i| on_form.contains(i.as_str()))
            })
            .map(|r| r.code().to_string())
            .collect();
        if !rules.is_empty() {
            let report = crate::validation::report(
                c,
                &crate::validation::ReportFilter {
                    units: vec![format!("{}@{}", t.unit_code, t.unit_version.as_str())],
                    children: false,
                    periods: vec![t.period.to_string()],
                    start_date: None,
                    end_date: None,
                    rules,
                    scope: None,
                    limit: 0,
                },
            )?;
            let errors: Vec<FieldError> = report
                .violations
                .iter()
                .filter(|v| v.check.importance == dantoc_domain::validation::Importance::Error)
                .map(|v| {
                    FieldError::new(
                        "validation",
                        format!("{} (rule {})", v.check.message, v.check.rule),
                    )
                    .value(v.disaggregation.clone().unwrap_or_else(|| "default".into()))
                })
                .collect();
            if !errors.is_empty() {
                return Err(StoreError::Invalid(Problems(errors)));
            }
        }
    }
    let now = crate::clock::now();
    let by = actor.name.as_str();
    let id = match &before {
        Some((id, _)) => {
            let sql = if req.step == Step::Submit {
                "UPDATE form_approval SET state = $1, comment = $2, updated_at = $3, updated_by = $4,
                        submitted_at = $3, submitted_by = $4 WHERE id = $5"
            } else {
                "UPDATE form_approval SET state = $1, comment = $2, updated_at = $3, updated_by = $4,
                        decided_at = $3, decided_by = $4 WHERE id = $5"
            };
            c.execute(sql, &params![to.as_str(), comment.clone(), &now, by, *id])?;
            *id
        }
        None => {
            let submit = req.step == Step::Submit;
            let at = submit.then_some(now.as_str());
            let decided = (!submit).then_some(now.as_str());
            c.query(
                "INSERT INTO form_approval (form_id, unit_id, period, state, comment, submitted_at,
                        submitted_by, decided_at, decided_by, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                &params![
                    t.form.id,
                    t.unit_id,
                    t.period.to_string(),
                    to.as_str(),
                    comment.clone(),
                    at,
                    at.map(|_| by),
                    decided,
                    decided.map(|_| by),
                    &now,
                    by
                ],
            )?
            .first()
            .map(|r| r.i64(0))
            .ok_or_else(|| StoreError::Db("INSERT INTO form_approval returned no id".into()))?
        }
    };
    c.execute(
        "INSERT INTO form_approval_step (approval_id, step, from_state, to_state, comment, at, actor)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &params![
            id,
            req.step.as_str(),
            from.as_str(),
            to.as_str(),
            comment.clone(),
            &now,
            by
        ],
    )?;
    let after = stored(c, &t)?
        .map(|(_, a)| a)
        .ok_or_else(|| StoreError::Db("the approval just written is gone".into()))?;
    let key = format!(
        "{}/{}@{}/{}",
        t.form.form.code, t.unit_code, t.unit_version, t.period
    );
    let json = |a: &Approval| {
        serde_json::json!({"state": a.state, "comment": a.comment, "submitted_at": a.submitted_at,
                           "submitted_by": a.submitted_by, "decided_at": a.decided_at, "decided_by": a.decided_by})
    };
    audit::record(
        c,
        actor,
        req.step.as_str(),
        "form_approval",
        &key,
        Some(
            &before
                .as_ref()
                .map(|(_, a)| json(a))
                .unwrap_or_else(|| serde_json::json!({"state": "draft"})),
        ),
        Some(&json(&after)),
    )?;
    Ok(after)
}

/// One step taken, for the history of an approval.
#[derive(Debug, Clone, Serialize)]
pub struct StepTaken {
    pub step: String,
    pub from_state: String,
    pub to_state: String,
    pub comment: Option<String>,
    pub at: String,
    pub actor: String,
}

/// The steps taken on a form's approval for a unit and period, oldest first.
pub fn steps(
    c: &mut dyn Conn,
    form: &str,
    unit: &str,
    period: &str,
) -> Result<Vec<StepTaken>, StoreError> {
    let t = target(c, form, unit, period)?;
    Ok(c.query(
        "SELECT s.step, s.from_state, s.to_state, s.comment, s.at, s.actor
               FROM form_approval_step s JOIN form_approval a ON a.id = s.approval_id
              WHERE a.form_id = $1 AND a.unit_id = $2 AND a.period = $3 ORDER BY s.id",
        &params![t.form.id, t.unit_id, t.period.to_string()],
    )?
    .iter()
    .map(|r| StepTaken {
        step: r.str(0),
        from_state: r.str(1),
        to_state: r.str(2),
        comment: r.opt_str(3),
        at: r.str(4),
        actor: r.str(5),
    })
    .collect())
}

/// Which approvals to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub form: Option<String>,
    /// Unit codes: `CODE@VERSION`, or `CODE` in the hierarchy in force at the end of the first
    /// period asked for (the current one when no period is).
    pub units: Vec<String>,
    /// With every unit below the given ones (in either hierarchy).
    pub children: bool,
    pub periods: Vec<String>,
    pub states: Vec<State>,
    /// Who reads: `None` sees every unit; `Some(scope)` the units within those scope units.
    pub visible: Option<Vec<i64>>,
    pub limit: i64,
}

/// Stored approvals (units with no step taken are drafts and are not listed: see
/// [`completeness`]), by form, period (latest first) and unit.
pub fn list(c: &mut dyn Conn, f: &ListFilter) -> Result<Vec<Approval>, StoreError> {
    let mut w: Vec<String> = vec![];
    let mut p: Vec<Val> = vec![];
    if let Some(form) = &f.form {
        forms::require(c, form)?;
        p.push(Val::from(form.as_str()));
        w.push(format!("f.code = ${}", p.len()));
    }
    if !f.units.is_empty() {
        let version = match f.periods.first() {
            Some(p) => HierarchyVersion::on(&parse_period("pe", p)?.end_date()),
            None => HierarchyVersion::CURRENT,
        };
        let codes: Vec<String> = f
            .units
            .iter()
            .map(|u| {
                if u.contains('@') {
                    u.clone()
                } else {
                    format!("{u}@{version}")
                }
            })
            .collect();
        let ids = crate::accounts::resolve_units(c, "ou", &codes)?;
        if f.children {
            let (sql, vals) = crate::accounts::scope_sql("a.unit_id", &ids, p.len() + 1);
            p.extend(vals);
            w.push(sql);
        } else {
            let marks = crate::db::push_params(&mut p, ids.iter().map(|id| Val::Int(*id)));
            w.push(format!("a.unit_id IN ({marks})"));
        }
    }
    if !f.periods.is_empty() {
        let periods = f
            .periods
            .iter()
            .map(|s| Ok(Val::Text(parse_period("pe", s)?.to_string())))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let marks = crate::db::push_params(&mut p, periods);
        w.push(format!("a.period IN ({marks})"));
    }
    if !f.states.is_empty() {
        let marks = crate::db::push_params(&mut p, f.states.iter().map(|s| Val::from(s.as_str())));
        w.push(format!("a.state IN ({marks})"));
    }
    if let Some(scope) = &f.visible {
        let (sql, vals) = crate::accounts::scope_sql("a.unit_id", scope, p.len() + 1);
        p.extend(vals);
        w.push(sql);
    }
    let filter = if w.is_empty() {
        "1 = 1".to_string()
    } else {
        w.join(" AND ")
    };
    p.push(Val::Int(if f.limit > 0 { f.limit } else { 10_000 }));
    Ok(c.query(
        &format!(
            "{SELECT} WHERE {filter} ORDER BY f.code, a.period DESC, u.version DESC, u.code LIMIT ${}",
            p.len()
        ),
        &p,
    )?
    .iter()
    .map(from_row)
    .collect())
}

/// One unit in the completeness report.
#[derive(Debug, Clone, Serialize)]
pub struct UnitProgress {
    pub unit: String,
    pub unit_name: String,
    pub state: State,
    pub state_label: &'static str,
    pub submitted_at: Option<String>,
    pub submitted_by: Option<String>,
    pub timeliness: Timeliness,
    pub timeliness_label: &'static str,
    pub comment: Option<String>,
    /// Cells of the form's grids that hold a value, of those the grids have for the unit.
    pub cells_filled: u64,
    pub cells_expected: u64,
    pub required_missing: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub units: u64,
    pub submitted: u64,
    pub on_time: u64,
    pub late: u64,
    pub not_submitted: u64,
    /// Not submitted and past the deadline.
    pub overdue: u64,
    pub approved: u64,
    pub locked: u64,
    pub returned: u64,
}

/// Which units of a form's level under a unit submitted for a period, on time or late.
#[derive(Debug, Clone, Serialize)]
pub struct Completeness {
    pub form: String,
    pub form_name: String,
    pub period: String,
    pub ou: String,
    pub ou_name: String,
    pub hierarchy: HierarchyVersion,
    pub deadline: String,
    pub today: String,
    pub totals: Totals,
    pub units: Vec<UnitProgress>,
}

/// The units of `kind` at or below `ou` (in `ou`'s hierarchy) that the reader may see.
fn units_below(
    c: &mut dyn Conn,
    ou: i64,
    kind: UnitKind,
    visible: Option<&HashSet<i64>>,
) -> Result<Vec<(i64, String, String)>, StoreError> {
    Ok(c.query(
        "SELECT u.id, u.code, u.full_name FROM admin_unit u
               JOIN admin_unit_closure cl ON cl.descendant_id = u.id
              WHERE cl.ancestor_id = $1 AND u.kind = $2 ORDER BY u.code",
        &params![ou, kind.as_str()],
    )?
    .iter()
    .filter(|r| visible.is_none_or(|v| v.contains(&r.i64(0))))
    .map(|r| (r.i64(0), r.str(1), r.str(2)))
    .collect())
}

struct Row3 {
    state: State,
    submitted_at: Option<String>,
    submitted_by: Option<String>,
    comment: Option<String>,
}

/// The stored states of a form for a period, by unit.
fn states_of(
    c: &mut dyn Conn,
    form_id: i64,
    period: &Period,
) -> Result<HashMap<i64, Row3>, StoreError> {
    Ok(c.query(
        "SELECT unit_id, state, submitted_at, submitted_by, comment FROM form_approval
              WHERE form_id = $1 AND period = $2",
        &params![form_id, period.to_string()],
    )?
    .iter()
    .map(|r| {
        (
            r.i64(0),
            Row3 {
                state: r.str(1).parse().unwrap_or_default(),
                submitted_at: r.opt_str(2),
                submitted_by: r.opt_str(3),
                comment: r.opt_str(4),
            },
        )
    })
    .collect())
}

/// The unit to report on, in the hierarchy in force at the end of the period.
fn report_root(c: &mut dyn Conn, ou: &str, period: &Period) -> Result<(i64, UnitInfo), StoreError> {
    let (id, u) = resolve_unit(c, "ou", ou, period)?;
    let v = HierarchyVersion::on(&period.end_date());
    if u.version != v {
        return Err(StoreError::invalid(
            FieldError::new(
                "ou",
                format!(
                    "period {period} is reported by the units of the {v} hierarchy: name a unit of it"
                ),
            )
            .value(ou),
        ));
    }
    Ok((id, u))
}

/// The completeness report of a form for a period: every unit of the form's level under `ou`
/// (in the hierarchy in force for the period) that the reader may see (`visible`: `None`
/// everywhere), its state, when it was submitted, whether on time against `Form::deadline`
/// (`today` decides whether an unsubmitted unit is overdue), and how many cells it filled.
pub fn completeness(
    c: &mut dyn Conn,
    form: &str,
    ou: &str,
    period: &str,
    today: &str,
    visible: Option<&HashSet<i64>>,
) -> Result<Completeness, StoreError> {
    let f = forms::require(c, form.trim())?;
    let p = parse_period("pe", period)?;
    f.form
        .accepts(&p)
        .map_err(|e| StoreError::invalid(FieldError::new("pe", e).value(period)))?;
    let (root, root_info) = report_root(c, ou, &p)?;
    let units = units_below(c, root, f.form.level, visible)?;
    let states = states_of(c, f.id, &p)?;
    let deadline = f.form.deadline(&p);
    // cells: the values of the form's indicators for the period under the unit, and the
    // ethnic groups present in each unit (as forms::ethnic_present, for every unit at once)
    let mut filled: HashMap<i64, HashSet<(String, String)>> = HashMap::new();
    for r in c.query(
        "SELECT d.unit_id, i.code, g.code FROM data_value d
           JOIN form_indicator fi ON fi.indicator_id = d.indicator_id
           JOIN indicator i ON i.id = d.indicator_id
           JOIN disaggregation g ON g.id = d.disagg_id
          WHERE fi.form_id = $1 AND d.month_start = $2 AND d.period = $3
            AND d.unit_id IN (SELECT descendant_id FROM admin_unit_closure WHERE ancestor_id = $4)",
        &params![f.id, p.month_range().0 as i64, p.to_string(), root],
    )? {
        filled
            .entry(r.i64(0))
            .or_default()
            .insert((r.str(1), r.str(2)));
    }
    let mut present: HashMap<i64, Vec<String>> = HashMap::new();
    if f.form
        .indicators()
        .any(|i| i.rows == Axis::Ethnic && i.ethnic_groups.is_empty())
    {
        for r in c.query(
            "SELECT DISTINCT v.unit_id, d.ethnic_code FROM data_value v
               JOIN disaggregation d ON d.id = v.disagg_id
              WHERE d.ethnic_code IS NOT NULL
                AND v.unit_id IN (SELECT descendant_id FROM admin_unit_closure WHERE ancestor_id = $1)
              ORDER BY v.unit_id, d.ethnic_code",
            &params![root],
        )? {
            present.entry(r.i64(0)).or_default().push(r.str(1));
        }
    }
    let mut totals = Totals::default();
    let mut out = vec![];
    let none = HashSet::new();
    for (id, code, name) in units {
        let s = states.get(&id);
        let state = s.map(|s| s.state).unwrap_or_default();
        let submitted_at = s.and_then(|s| s.submitted_at.clone());
        let timeliness = Timeliness::of(
            state,
            submitted_at.as_deref().and_then(local_date).as_deref(),
            &deadline,
            today,
        );
        let have = filled.get(&id).unwrap_or(&none);
        let here = present.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        let (mut expected, mut got, mut missing) = (0, 0, 0);
        if here.is_empty() {
            // a required grid of the ethnic groups present, with none yet: a row is missing
            missing += ethnic_rows_missing(&f, here).len() as u64;
        }
        for it in f.form.indicators() {
            for d in it.cells(here) {
                expected += 1;
                if have.contains(&(it.indicator.clone(), d.code())) {
                    got += 1;
                } else if it.required {
                    missing += 1;
                }
            }
        }
        totals.units += 1;
        match timeliness {
            Timeliness::OnTime => totals.on_time += 1,
            Timeliness::Late => totals.late += 1,
            Timeliness::Overdue => totals.overdue += 1,
            Timeliness::Pending => {}
        }
        if state.is_submitted() {
            totals.submitted += 1;
        } else {
            totals.not_submitted += 1;
        }
        match state {
            State::Approved => totals.approved += 1,
            State::Locked => totals.locked += 1,
            State::Returned => totals.returned += 1,
            _ => {}
        }
        out.push(UnitProgress {
            unit: code,
            unit_name: name,
            state,
            state_label: state.label_vi(),
            submitted_at,
            submitted_by: s.and_then(|s| s.submitted_by.clone()),
            timeliness,
            timeliness_label: timeliness.label_vi(),
            comment: s.and_then(|s| s.comment.clone()),
            cells_filled: got,
            cells_expected: expected,
            required_missing: missing,
        });
    }
    Ok(Completeness {
        form: f.form.code.clone(),
        form_name: f.form.name_vi.clone(),
        period: p.to_string(),
        ou: root_info.code,
        ou_name: root_info.name,
        hierarchy: root_info.version,
        deadline,
        today: today.to_string(),
        totals,
        units: out,
    })
}

impl Completeness {
    /// The report as CSV (UTF-8 with a BOM, for Excel): one row per unit.
    pub fn write_csv<W: std::io::Write>(&self, out: W) -> std::io::Result<()> {
        let mut w = crate::csv_values::bom_writer(out)?;
        w.write_record([
            "form",
            "period",
            "deadline",
            "unit",
            "unit_name",
            "state",
            "submitted_at",
            "submitted_by",
            "timeliness",
            "cells_filled",
            "cells_expected",
            "required_missing",
        ])?;
        for u in &self.units {
            w.write_record([
                self.form.as_str(),
                &self.period,
                &self.deadline,
                &u.unit,
                &u.unit_name,
                u.state.as_str(),
                u.submitted_at.as_deref().unwrap_or(""),
                u.submitted_by.as_deref().unwrap_or(""),
                u.timeliness.as_str(),
                &u.cells_filled.to_string(),
                &u.cells_expected.to_string(),
                &u.required_missing.to_string(),
            ])?;
        }
        w.flush()
    }
}

/// A unit past a form's deadline that has not submitted it.
#[derive(Debug, Clone, Serialize)]
pub struct Overdue {
    pub form: String,
    pub form_name: String,
    pub period: String,
    pub deadline: String,
    pub unit: String,
    pub unit_name: String,
    pub state: State,
    pub state_label: &'static str,
    /// Days past the deadline on `today`.
    pub days_late: i64,
}

fn days_between(from: &str, to: &str) -> i64 {
    // dates are near each other: count up to a few years
    let mut d = from.to_string();
    for n in 0..2000 {
        if d.as_str() >= to {
            return n;
        }
        match add_days(&d, 1) {
            Some(next) => d = next,
            None => return n,
        }
    }
    2000
}

/// Every unit under `ou` (that the reader may see) past the deadline of a form reported for
/// `period` without having submitted it, by form and unit.
pub fn overdue(
    c: &mut dyn Conn,
    ou: &str,
    period: &str,
    today: &str,
    visible: Option<&HashSet<i64>>,
) -> Result<Vec<Overdue>, StoreError> {
    let p = parse_period("pe", period)?;
    let (root, _) = report_root(c, ou, &p)?;
    let mut out = vec![];
    for f in forms::list(c, "")? {
        if f.form.accepts(&p).is_err() {
            continue;
        }
        let deadline = f.form.deadline(&p);
        if today <= deadline.as_str() {
            continue;
        }
        let states = states_of(c, f.id, &p)?;
        for (id, code, name) in units_below(c, root, f.form.level, visible)? {
            let state = states.get(&id).map(|s| s.state).unwrap_or_default();
            if state.is_submitted() {
                continue;
            }
            out.push(Overdue {
                form: f.form.code.clone(),
                form_name: f.form.name_vi.clone(),
                period: p.to_string(),
                deadline: deadline.clone(),
                unit: code,
                unit_name: name,
                state,
                state_label: state.label_vi(),
                days_late: days_between(&deadline, today),
            });
        }
    }
    Ok(out)
}

/// The keys (indicator, unit, period) of values that may not be written because their form is
/// submitted, approved or locked for the unit and period — for `values::Catalogue`, checked
/// per value, and confirmed inside the import's transaction ([`Locks::still_current`]).
///
/// A database with few such approvals has them all loaded at once. A national hub holds tens of
/// thousands: loading them all would cost a one-cell save more than the save, so they are read
/// per unit as an import meets its units (one indexed query each), and all at once when an
/// import meets many units. Reading needs the database handle given by [`Locks::attach`];
/// without one, a value of a unit not loaded is refused: the check fails closed.
#[derive(Default)]
pub struct Locks {
    /// (unit, period) → the forms submitted, approved or locked for it, with their state.
    approvals: HashMap<(i64, Period), Vec<(i64, State)>>,
    /// Form id → its code and indicators.
    forms: HashMap<i64, (String, HashSet<i64>)>,
    /// `None`: every approval is in `approvals`; otherwise the units whose approvals are.
    loaded_units: Option<HashSet<i64>>,
    /// Unit labels for messages (`06877 (Xã Đông Ngũ)`), read when a value is refused.
    labels: HashMap<i64, String>,
    db: Option<crate::db::Db>,
    /// The last step taken when the approvals were loaded.
    stamp: i64,
}

/// Up to this many submitted, approved or locked approvals are loaded at once …
const EAGER_MAX: i64 = 2000;
/// … and all of them once an import has met this many units.
const LAZY_UNITS: usize = 20;

const LOCKS_SQL: &str = "SELECT form_id, unit_id, period, state FROM form_approval
  WHERE state IN ('submitted', 'approved', 'locked')";

fn stamp(c: &mut dyn Conn) -> Result<i64, StoreError> {
    c.scalar_i64("SELECT coalesce(max(id), 0) FROM form_approval_step", &[])
}

impl Locks {
    pub fn load(c: &mut dyn Conn) -> Result<Locks, StoreError> {
        let mut l = Locks {
            stamp: stamp(c)?,
            ..Default::default()
        };
        let many = c.scalar_i64(
            &format!(
                "SELECT count(*) FROM (SELECT 1 FROM form_approval
                  WHERE state IN ('submitted', 'approved', 'locked') LIMIT {}) AS few",
                EAGER_MAX + 1
            ),
            &[],
        )?;
        if many == 0 {
            return Ok(l);
        }
        for r in c.query(
            "SELECT f.id, f.code, fi.indicator_id FROM form f JOIN form_indicator fi ON fi.form_id = f.id",
            &[],
        )? {
            l.forms
                .entry(r.i64(0))
                .or_insert_with(|| (r.str(1), HashSet::new()))
                .1
                .insert(r.i64(2));
        }
        if many > EAGER_MAX {
            l.loaded_units = Some(HashSet::new());
        } else {
            let rows = c.query(LOCKS_SQL, &[])?;
            l.add(&rows);
        }
        Ok(l)
    }

    /// The database to read approvals from when they are not all loaded.
    pub fn attach(&mut self, db: &crate::db::Db) {
        self.db = Some(db.clone());
    }

    fn add(&mut self, rows: &[Row]) {
        for r in rows {
            if let Ok(period) = r.str(2).parse::<Period>() {
                self.approvals
                    .entry((r.i64(1), period))
                    .or_default()
                    .push((r.i64(0), r.str(3).parse().unwrap_or_default()));
            }
        }
    }

    fn read(&self, sql: &str, p: &[Val]) -> Result<Vec<Row>, StoreError> {
        match &self.db {
            Some(db) => db.read(|c| c.query(sql, p)),
            None => Err(StoreError::Db(
                "no database attached to the approval locks".into(),
            )),
        }
    }

    /// Make sure the approvals of a unit are loaded.
    fn load_unit(&mut self, unit_id: i64) -> Result<(), StoreError> {
        let Some(loaded) = &self.loaded_units else {
            return Ok(());
        };
        if loaded.contains(&unit_id) {
            return Ok(());
        }
        if loaded.len() >= LAZY_UNITS {
            let rows = self.read(LOCKS_SQL, &[])?;
            self.approvals.clear();
            self.add(&rows);
            self.loaded_units = None;
        } else {
            let rows = self.read(&format!("{LOCKS_SQL} AND unit_id = $1"), &params![unit_id])?;
            self.add(&rows);
            if let Some(loaded) = &mut self.loaded_units {
                loaded.insert(unit_id);
            }
        }
        Ok(())
    }

    fn label(&mut self, unit_id: i64) -> String {
        if let Some(l) = self.labels.get(&unit_id) {
            return l.clone();
        }
        let l = self
            .db
            .as_ref()
            .and_then(|db| db.read(|c| unit_info(c, unit_id)).ok())
            .map(|u| format!("{} ({})", u.code, u.name))
            .unwrap_or_else(|| format!("#{unit_id}"));
        self.labels.insert(unit_id, l.clone());
        l
    }

    /// Why a value of this indicator, unit and period may not be written, if it may not.
    pub fn refuse(
        &mut self,
        indicator_id: i64,
        unit_id: i64,
        period: &Period,
    ) -> Option<FieldError> {
        if self.forms.is_empty() {
            return None;
        }
        if let Err(e) = self.load_unit(unit_id) {
            tracing::warn!("approvals of unit #{unit_id} unread: {e}");
            return Some(FieldError::new(
                "period",
                "không kiểm tra được trạng thái phê duyệt của biểu: hãy thử lại \
                 (the approval state of the form could not be checked: try again)",
            ));
        }
        let (form, state) =
            self.approvals
                .get(&(unit_id, *period))?
                .iter()
                .find_map(|(form_id, state)| {
                    let (code, inds) = self.forms.get(form_id)?;
                    inds.contains(&indicator_id).then(|| (code.clone(), *state))
                })?;
        let unit = self.label(unit_id);
        let period = period.to_string();
        Some(
            FieldError::new("period", flow::not_editable(&form, &unit, &period, state))
                .value(period),
        )
    }

    /// Inside an import's transaction, before it writes: no step was taken since the keys were
    /// loaded (else the import is refused as a conflict, to be sent again). On PostgreSQL the
    /// import holds the steps' advisory lock shared until it commits, so that no step commits
    /// between this check and the import's commit; on SQLite the single writer does that.
    pub fn still_current(&self, c: &mut dyn Conn) -> Result<(), StoreError> {
        if c.backend() == Backend::Postgres {
            c.query(
                "SELECT pg_advisory_xact_lock_shared($1)",
                &params![ADVISORY_KEY],
            )?;
        }
        if stamp(c)? != self.stamp {
            return Err(StoreError::Conflict(
                "một biểu vừa được nộp, duyệt, trả lại, khóa hoặc mở khóa trong lúc nhập: hãy gửi lại \
                 (a form was submitted, approved, returned, locked or unlocked during the import: send it again)"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::on_both_backends;
    use crate::testing::TestDb;
    use crate::values::{self, ImportOptions, RawValue, Strategy};

    on_both_backends!(
        required_cells_block_a_submission_and_are_named,
        the_workflow_with_who_may_and_the_audit_trail,
        a_submitted_form_blocks_every_write_path_until_returned,
        completeness_counts_on_time_late_and_overdue,
        many_approvals_are_read_per_unit,
        a_unit_with_no_ethnic_rows_cannot_submit_their_grid_empty
    );

    fn actor(name: &str) -> Actor {
        Actor {
            name: name.into(),
            origin: "test".into(),
        }
    }

    fn id(db: &TestDb, v: HierarchyVersion, code: &str) -> i64 {
        db.read(|c| crate::units::id_of(c, v, code))
            .unwrap()
            .unwrap()
    }

    fn commune(db: &TestDb) -> Acting {
        Acting {
            role: Role::CommuneOfficer,
            global: false,
            scope: vec![id(db, HierarchyVersion::V2025, "06877")],
        }
    }

    fn province(db: &TestDb) -> Acting {
        Acting {
            role: Role::ProvinceOfficer,
            global: false,
            scope: vec![id(db, HierarchyVersion::V2025, "22")],
        }
    }

    fn raw(ind: &str, unit: &str, period: &str, disagg: &str, v: &str) -> RawValue {
        RawValue {
            indicator: ind.into(),
            unit: unit.into(),
            period: period.into(),
            disagg: disagg.into(),
            value: Some(v.into()),
            ..Default::default()
        }
    }

    fn import(db: &TestDb, vals: Vec<RawValue>, strategy: Strategy) -> values::ImportSummary {
        let opts = ImportOptions {
            strategy,
            audit_each: true,
            what: "test".into(),
            ..Default::default()
        };
        values::import(
            db,
            &actor("xa"),
            &opts,
            vals.into_iter().map(Ok),
            &|i, e| FieldError {
                field: format!("[{i}].{}", e.field),
                ..e
            },
        )
        .unwrap()
    }

    /// Fill every required cell of BM-DTTS-02 for a commune and period.
    fn fill_02(db: &TestDb, unit: &str, period: &str) {
        let s = import(
            db,
            vec![
                raw("x-cnscd-to", unit, period, "default", "2"),
                raw("x-cnscd-tv", unit, period, "M", "5"),
                raw("x-cnscd-tv", unit, period, "F", "4"),
                raw("x-thon-noms", unit, period, "default", "1"),
            ],
            Strategy::CreateAndUpdate,
        );
        assert_eq!(s.status, "SUCCESS", "{:?}", s.conflicts);
    }

    fn step(
        db: &TestDb,
        who: &Acting,
        by: &str,
        s: Step,
        comment: Option<&str>,
    ) -> Result<Approval, StoreError> {
        step_for(db, who, by, "06877", "2025", s, comment)
    }

    fn step_for(
        db: &TestDb,
        who: &Acting,
        by: &str,
        unit: &str,
        period: &str,
        s: Step,
        comment: Option<&str>,
    ) -> Result<Approval, StoreError> {
        let req = StepRequest {
            form: "BM-DTTS-02".into(),
            unit: unit.into(),
            period: period.into(),
            step: s,
            comment: comment.map(str::to_string),
        };
        db.write(|c| transition(c, &actor(by), who, &req))
    }

    fn required_cells_block_a_submission_and_are_named(db: &TestDb) {
        let xa = commune(db);
        let e = step(db, &xa, "xa", Step::Submit, None).unwrap_err();
        let StoreError::Invalid(p) = e else {
            panic!("{e}")
        };
        let cells: Vec<&str> = p.0.iter().map(|e| e.value.as_deref().unwrap()).collect();
        assert_eq!(
            cells,
            [
                "x-cnscd-to/default",
                "x-cnscd-tv/M",
                "x-cnscd-tv/F",
                "x-thon-noms/default"
            ],
            "the optional x-ncut-smartphone is not asked for"
        );
        assert!(p.0[0].message.contains("ô bắt buộc"), "{p}");
        import(
            db,
            vec![raw("x-cnscd-to", "06877", "2025", "default", "2")],
            Strategy::CreateAndUpdate,
        );
        let p = refused(step(db, &xa, "xa", Step::Submit, None));
        assert_eq!(p.len(), 3);
        // nothing stored by a refused submission
        assert_eq!(
            db.read(|c| c.scalar_i64("SELECT count(*) FROM form_approval", &[]))
                .unwrap(),
            0
        );
        fill_02(db, "06877", "2025");
        let a = step(db, &xa, "xa", Step::Submit, None).unwrap();
        assert_eq!(a.state, State::Submitted);
        assert_eq!(a.submitted_by.as_deref(), Some("xa"));
        assert_eq!(a.deadline, "2026-01-15");
        // a form reported by communes is not submitted for a province, nor for a quarter
        let e = step_for(db, &province(db), "tinh", "22", "2025", Step::Submit, None).unwrap_err();
        assert!(e.to_string().contains("reported by each commune"), "{e}");
        let e = step_for(db, &xa, "xa", "06877", "2025Q1", Step::Submit, None).unwrap_err();
        assert!(e.to_string().contains("reported yearly"), "{e}");
    }

    /// BM-DTTS-01's required grids have a row per ethnic group present in the commune. With
    /// none known yet they have no cells; the submission is refused all the same, each grid
    /// named, until a row is added — then that row's cells are required like any other.
    /// A refused step's problems.
    fn refused<T: std::fmt::Debug>(r: Result<T, StoreError>) -> Problems {
        let StoreError::Invalid(p) = r.unwrap_err() else {
            panic!("refused for another reason")
        };
        p
    }

    /// Each problem as (field, value).
    fn fields(p: &Problems) -> Vec<(&str, &str)> {
        p.0.iter()
            .map(|e| (e.field.as_str(), e.value.as_deref().unwrap_or_default()))
            .collect()
    }

    fn a_unit_with_no_ethnic_rows_cannot_submit_their_grid_empty(db: &TestDb) {
        let xa = commune(db);
        let submit = |db: &TestDb| {
            let req = StepRequest {
                form: "BM-DTTS-01".into(),
                unit: "06877".into(),
                period: "2025".into(),
                step: Step::Submit,
                comment: None,
            };
            db.write(|c| transition(c, &actor("xa"), &xa, &req))
        };
        let unit = id(db, HierarchyVersion::V2025, "06877");
        assert!(
            db.read(|c| forms::ethnic_present(c, unit))
                .unwrap()
                .is_empty(),
            "no ethnic group known in the commune yet"
        );
        // the one grid without ethnic rows filled: only the ethnic grids are missing
        import(
            db,
            vec![
                raw("x-pop-total", "06877", "2025", "M", "2100"),
                raw("x-pop-total", "06877", "2025", "F", "2200"),
            ],
            Strategy::CreateAndUpdate,
        );
        let p = refused(submit(db));
        let got = fields(&p);
        assert_eq!(
            got,
            [
                ("required_row", "0101"),
                ("required_row", "x-ho-dtts"),
                ("required_row", "x-ho-ngheo-dtts")
            ]
        );
        assert!(p.0[0].message.contains("chưa có dòng dân tộc nào"), "{p}");
        assert!(p.0[0].message.contains("no ethnic group row"), "{p}");
        // the progress of the commune counts them missing too
        let done = db
            .read(|c| completeness(c, "BM-DTTS-01", "06877", "2025", "2026-01-01", None))
            .unwrap();
        assert_eq!(done.units[0].required_missing, 3);
        // a row for the Tày (02): its cells are required now, and the grids are not empty
        import(
            db,
            vec![raw("0101", "06877", "2025", "E02.M", "40")],
            Strategy::CreateAndUpdate,
        );
        let p = refused(submit(db));
        let got = fields(&p);
        assert_eq!(
            got,
            [
                ("required_cell", "0101/E02.F"),
                ("required_cell", "x-ho-dtts/E02"),
                ("required_cell", "x-ho-ngheo-dtts/E02")
            ]
        );
        import(
            db,
            vec![
                raw("0101", "06877", "2025", "E02.F", "41"),
                raw("x-ho-dtts", "06877", "2025", "E02", "20"),
                raw("x-ho-ngheo-dtts", "06877", "2025", "E02", "3"),
            ],
            Strategy::CreateAndUpdate,
        );
        assert_eq!(submit(db).unwrap().state, State::Submitted);
    }

    fn the_workflow_with_who_may_and_the_audit_trail(db: &TestDb) {
        let (xa, tinh) = (commune(db), province(db));
        fill_02(db, "06877", "2025");
        assert!(matches!(
            step(db, &xa, "xa", Step::Approve, None),
            Err(StoreError::Forbidden(_))
        ));
        step(db, &xa, "xa", Step::Submit, None).unwrap();
        let e = step(db, &xa, "xa", Step::Approve, None).unwrap_err();
        let StoreError::Forbidden(m) = e else {
            panic!("{e}")
        };
        assert!(m.contains("cấp trên"), "{m}");
        assert!(matches!(
            step(db, &xa, "xa", Step::Submit, None),
            Err(StoreError::Conflict(_))
        ));
        // another province's officer
        let other = Acting {
            role: Role::ProvinceOfficer,
            global: false,
            scope: vec![id(db, HierarchyVersion::V2025, "04")],
        };
        assert!(matches!(
            step(db, &other, "khac", Step::Approve, None),
            Err(StoreError::Forbidden(_))
        ));
        assert!(matches!(
            step(db, &tinh, "tinh", Step::Return, Some("  ")),
            Err(StoreError::Invalid(_))
        ));
        let a = step(
            db,
            &tinh,
            "tinh",
            Step::Return,
            Some("Số thôn chưa có sóng sai"),
        )
        .unwrap();
        assert_eq!(
            (a.state, a.comment.as_deref()),
            (State::Returned, Some("Số thôn chưa có sóng sai"))
        );
        step(db, &xa, "xa", Step::Submit, None).unwrap();
        step(db, &tinh, "tinh", Step::Approve, None).unwrap();
        step(db, &tinh, "tinh", Step::Lock, None).unwrap();
        assert!(matches!(
            step(db, &tinh, "tinh", Step::Return, Some("x")),
            Err(StoreError::Conflict(_))
        ));
        let a = step(db, &tinh, "tinh", Step::Unlock, None).unwrap();
        assert_eq!(a.state, State::Approved);
        assert_eq!(a.decided_by.as_deref(), Some("tinh"));

        let taken: Vec<(String, String, String)> = db
            .read(|c| steps(c, "BM-DTTS-02", "06877", "2025"))
            .unwrap()
            .into_iter()
            .map(|s| (s.step, s.from_state, s.to_state))
            .collect();
        let want = [
            ("submit", "draft", "submitted"),
            ("return", "submitted", "returned"),
            ("submit", "returned", "submitted"),
            ("approve", "submitted", "approved"),
            ("lock", "approved", "locked"),
            ("unlock", "locked", "approved"),
        ];
        assert_eq!(
            taken,
            want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        );
        let audit: Vec<(String, String, String, String)> = db
            .read(|c| {
                Ok(c.query(
                    "SELECT action, entity_key, before, after FROM audit_log WHERE entity = 'form_approval' ORDER BY id",
                    &[],
                )?
                .iter()
                .map(|r| (r.str(0), r.str(1), r.str(2), r.str(3)))
                .collect())
            })
            .unwrap();
        assert_eq!(audit.len(), want.len(), "every step audited, refusals not");
        for ((action, key, before, after), (s, from, to)) in audit.iter().zip(want) {
            assert_eq!(action, s);
            assert_eq!(key, "BM-DTTS-02/06877@2025/2025");
            assert!(
                before.contains(&format!("\"state\":\"{from}\"")),
                "{before}"
            );
            assert!(after.contains(&format!("\"state\":\"{to}\"")), "{after}");
        }
        assert!(audit[1].3.contains("Số thôn chưa có sóng sai"));
        // listed for the province, not for another province's officer
        let mine = db
            .read(|c| {
                list(
                    c,
                    &ListFilter {
                        visible: Some(tinh.scope.clone()),
                        ..Default::default()
                    },
                )
            })
            .unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(
            mine[0].on_time,
            Some(false),
            "submitted in 2026-11, after 2026-01-15"
        );
        let theirs = db
            .read(|c| {
                list(
                    c,
                    &ListFilter {
                        visible: Some(other.scope.clone()),
                        ..Default::default()
                    },
                )
            })
            .unwrap();
        assert!(theirs.is_empty());
        let by_state = db
            .read(|c| {
                list(
                    c,
                    &ListFilter {
                        units: vec!["22".into()],
                        children: true,
                        states: vec![State::Submitted],
                        ..Default::default()
                    },
                )
            })
            .unwrap();
        assert!(by_state.is_empty(), "approved, not waiting");
    }

    fn a_submitted_form_blocks_every_write_path_until_returned(db: &TestDb) {
        let (xa, tinh) = (commune(db), province(db));
        fill_02(db, "06877", "2025");
        step(db, &xa, "xa", Step::Submit, None).unwrap();
        let before = db.read(values::count).unwrap();
        // the per-value path, a delete, the bulk path, a CSV file: all refused, located
        let s = import(
            db,
            vec![
                raw("0101", "06877", "2025", "E01.M", "10"),
                raw("x-cnscd-tv", "06877", "2025", "M", "6"),
            ],
            Strategy::CreateAndUpdate,
        );
        assert_eq!(s.status, "ERROR");
        assert_eq!(s.conflicts.len(), 1, "{:?}", s.conflicts);
        assert_eq!(s.conflicts[0].field, "[1].period");
        assert!(
            s.conflicts[0]
                .message
                .starts_with("biểu BM-DTTS-02 của đơn vị 06877 (Xã Đông Ngũ) kỳ 2025 đã nộp"),
            "{}",
            s.conflicts[0].message
        );
        let s = import(
            db,
            vec![raw("x-cnscd-to", "06877", "2025", "default", "")],
            Strategy::Delete,
        );
        assert_eq!(s.status, "ERROR", "a delete is a write");
        let mut many: Vec<RawValue> = (1990..2010)
            .flat_map(|y| {
                (1..=54).flat_map(move |e| {
                    ["M", "F"].map(|s| {
                        raw(
                            "0101",
                            "06877",
                            &y.to_string(),
                            &format!("E{e:02}.{s}"),
                            "1",
                        )
                    })
                })
            })
            .collect();
        assert!(many.len() >= values::BULK_MIN);
        many.push(raw("x-thon-noms", "06877", "2025", "default", "0"));
        let opts = ImportOptions::default();
        let s = values::import(
            db,
            &actor("bulk"),
            &opts,
            many.into_iter().map(Ok),
            &|_, e| e,
        )
        .unwrap();
        assert_eq!((s.status, s.conflict_count), ("ERROR", 1));
        let csv = "indicator,unit,period,disaggregation,value\nx-cnscd-to,06877,2024,default,1\nx-cnscd-to,06877,2025,default,3\n";
        let reader = crate::csv_values::open(csv.as_bytes()).unwrap();
        let loc = reader.locator();
        let s = values::import(db, &actor("csv"), &opts, reader, &|i, e| loc.locate(i, e)).unwrap();
        assert_eq!(s.status, "ERROR");
        assert_eq!(
            s.conflicts[0].row,
            Some(3),
            "the CSV row of the locked value"
        );
        assert_eq!(db.read(values::count).unwrap(), before, "nothing written");
        // another commune, another period, an indicator of no submitted form: still writable
        let s = import(
            db,
            vec![
                raw("x-cnscd-to", "06877", "2024", "default", "1"),
                raw("0101", "06877", "2025", "E01.M", "10"),
            ],
            Strategy::CreateAndUpdate,
        );
        assert_eq!(s.status, "SUCCESS", "{:?}", s.conflicts);
        // approved and locked: still refused; unlocked: approved, still refused; returned: open
        step(db, &tinh, "tinh", Step::Approve, None).unwrap();
        step(db, &tinh, "tinh", Step::Lock, None).unwrap();
        let one = || vec![raw("x-cnscd-tv", "06877", "2025", "F", "7")];
        let s = import(db, one(), Strategy::CreateAndUpdate);
        assert!(
            s.conflicts[0].message.contains("đã khóa"),
            "{:?}",
            s.conflicts
        );
        step(db, &tinh, "tinh", Step::Unlock, None).unwrap();
        let s = import(db, one(), Strategy::CreateAndUpdate);
        assert!(
            s.conflicts[0].message.contains("đã duyệt"),
            "{:?}",
            s.conflicts
        );
        step(db, &tinh, "tinh", Step::Return, Some("Sửa số nữ")).unwrap();
        let s = import(db, one(), Strategy::CreateAndUpdate);
        assert_eq!(s.status, "SUCCESS", "{:?}", s.conflicts);
        // a lock taken after the catalogue was loaded is caught in the import's transaction
        let locks = db.read(Locks::load).unwrap();
        step(db, &xa, "xa", Step::Submit, None).unwrap();
        let e = db.write(|c| locks.still_current(c)).unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    }

    fn completeness_counts_on_time_late_and_overdue(db: &TestDb) {
        let (xa, tinh) = (commune(db), province(db));
        let all = db
            .read(|c| completeness(c, "BM-DTTS-02", "22", "2025", "2026-01-10", None))
            .unwrap();
        let n = all.units.len() as u64;
        assert!(n > 20, "the communes of Quảng Ninh since 1 July 2025: {n}");
        assert_eq!(all.hierarchy, HierarchyVersion::V2025);
        assert_eq!(
            (all.totals.not_submitted, all.totals.overdue),
            (n, 0),
            "before the deadline"
        );
        let u = all.units.iter().find(|u| u.unit == "06877").unwrap();
        assert_eq!(
            (u.cells_filled, u.cells_expected, u.required_missing),
            (0, 4, 4)
        );
        assert_eq!(u.timeliness, Timeliness::Pending);

        fill_02(db, "06877", "2025");
        step(db, &xa, "xa", Step::Submit, None).unwrap();
        // submitted today (2026-11): late for 2025, whose deadline was 2026-01-15
        let r = db
            .read(|c| completeness(c, "BM-DTTS-02", "22", "2025", "2026-11-30", None))
            .unwrap();
        assert_eq!(
            (
                r.totals.submitted,
                r.totals.on_time,
                r.totals.late,
                r.totals.overdue
            ),
            (1, 0, 1, n - 1)
        );
        let u = r.units.iter().find(|u| u.unit == "06877").unwrap();
        assert_eq!(
            (u.cells_filled, u.cells_expected, u.required_missing),
            (4, 4, 0)
        );
        // the current year: submitted before its deadline
        let year = &crate::clock::today()[..4];
        fill_02(db, "06877", year);
        step_for(db, &xa, "xa", "06877", year, Step::Submit, None).unwrap();
        step_for(db, &tinh, "tinh", "06877", year, Step::Approve, None).unwrap();
        let r = db
            .read(|c| completeness(c, "BM-DTTS-02", "22", year, &crate::clock::today(), None))
            .unwrap();
        assert_eq!(
            (
                r.totals.on_time,
                r.totals.late,
                r.totals.overdue,
                r.totals.approved
            ),
            (1, 0, 0, 1)
        );
        // the commune officer sees their commune only
        let mine = db
            .read(|c| crate::accounts::allowed_units(c, &xa.scope))
            .unwrap();
        let r = db
            .read(|c| completeness(c, "BM-DTTS-02", "22", "2025", "2026-11-30", Some(&mine)))
            .unwrap();
        assert_eq!(r.units.len(), 1);
        // overdue, every form: BM-DTTS-01 for all communes, BM-DTTS-02 for all but 06877
        let o = db
            .read(|c| overdue(c, "22", "2025", "2026-11-30", None))
            .unwrap();
        assert_eq!(o.len() as u64, n + n - 1);
        assert!(o.iter().all(|x| x.days_late == 319), "{:?}", o[0]);
        assert!(
            db.read(|c| overdue(c, "22", "2025", "2026-01-15", None))
                .unwrap()
                .is_empty()
        );
        // the hierarchy of the period
        let e = db
            .read(|c| completeness(c, "BM-DTTS-02", "22@2024", "2025", "2026-11-30", None))
            .unwrap_err();
        assert!(e.to_string().contains("2025 hierarchy"), "{e}");
        let old = db
            .read(|c| completeness(c, "BM-DTTS-02", "22", "2024", "2026-11-30", None))
            .unwrap();
        assert_eq!(old.hierarchy, HierarchyVersion::V2024);
        assert!(
            old.units.len() as u64 > n,
            "more communes before the reform"
        );
    }

    /// A hub with many submitted forms: the locks are read per unit, with the same outcome.
    fn many_approvals_are_read_per_unit(db: &TestDb) {
        fill_02(db, "06877", "2025");
        step(db, &commune(db), "xa", Step::Submit, None).unwrap();
        // every other commune of 2025 submitted BM-DTTS-01 for 2025 (written directly)
        let n = db
            .write(|c| {
                c.execute(
                    "INSERT INTO form_approval (form_id, unit_id, period, state, updated_at, updated_by)
                     SELECT f.id, u.id, '2025', 'locked', 'x', 'x' FROM form f CROSS JOIN admin_unit u
                      WHERE f.code = 'BM-DTTS-01' AND u.version = '2025' AND u.kind = 'commune'",
                    &[],
                )
            })
            .unwrap();
        assert!(n as i64 > EAGER_MAX, "{n}");
        let mut locks = db.read(Locks::load).unwrap();
        assert!(locks.approvals.is_empty(), "not loaded at once");
        let ind = |code: &str| {
            db.read(|c| c.scalar_i64("SELECT id FROM indicator WHERE code = $1", &params![code]))
                .unwrap()
        };
        let unit = id(db, HierarchyVersion::V2025, "06877");
        let y2025: Period = "2025".parse().unwrap();
        let e = locks.refuse(ind("x-cnscd-to"), unit, &y2025).unwrap();
        assert!(
            e.message.contains("không kiểm tra được"),
            "fails closed without a database: {e}"
        );
        locks.attach(&db.db);
        let e = locks.refuse(ind("x-cnscd-to"), unit, &y2025).unwrap();
        assert!(
            e.message.contains("BM-DTTS-02") && e.message.contains("đã nộp"),
            "{e}"
        );
        let e = locks.refuse(ind("0101"), unit, &y2025).unwrap();
        assert!(
            e.message.contains("BM-DTTS-01") && e.message.contains("đã khóa"),
            "{e}"
        );
        assert!(
            locks
                .refuse(ind("x-cnscd-to"), unit, &"2024".parse().unwrap())
                .is_none()
        );
        // through an import: the locked value refused and located, another unit's free value taken
        let s = import(
            db,
            vec![
                raw("x-cnscd-to", "06877", "2024", "default", "1"),
                raw("x-ho-dtts", "06652", "2025", "E01", "3"),
                raw("x-cnscd-to", "06652", "2025", "default", "1"),
            ],
            Strategy::CreateAndUpdate,
        );
        assert_eq!(s.conflicts.len(), 1, "{:?}", s.conflicts);
        assert_eq!(s.conflicts[0].field, "[1].period");
        assert!(s.conflicts[0].message.contains("06652"));
        let s = import(
            db,
            vec![raw("x-cnscd-to", "06652", "2025", "default", "1")],
            Strategy::CreateAndUpdate,
        );
        assert_eq!(s.status, "SUCCESS", "{:?}", s.conflicts);
        // an import that meets many units reads every approval at once, with the same outcome
        let mut many: Vec<RawValue> = db
            .read(|c| {
                Ok(c.query(
                    "SELECT code FROM admin_unit WHERE version = '2025' AND kind = 'commune' AND code <> '06877' ORDER BY code LIMIT 30",
                    &[],
                )?
                .iter()
                .map(|r| raw("x-cnscd-to", &r.str(0), "2025", "default", "1"))
                .collect())
            })
            .unwrap();
        assert!(many.len() > LAZY_UNITS);
        many.push(raw("x-cnscd-to", "06877", "2025", "default", "5"));
        let s = import(db, many, Strategy::CreateAndUpdate);
        assert_eq!(s.conflicts.len(), 1, "{:?}", s.conflicts);
        assert_eq!(s.conflicts[0].field, "[30].period");
        assert!(
            s.conflicts[0].message.contains("06877 (Xã Đông Ngũ)"),
            "{}",
            s.conflicts[0].message
        );
    }

    #[test]
    fn local_dates_are_vietnams() {
        assert_eq!(
            local_date("2026-01-15T16:59:59.999Z").as_deref(),
            Some("2026-01-15")
        );
        assert_eq!(
            local_date("2026-01-15T17:00:00.000Z").as_deref(),
            Some("2026-01-16")
        );
        assert_eq!(
            local_date("2025-12-31T20:00:00.000Z").as_deref(),
            Some("2026-01-01")
        );
        assert_eq!(days_between("2026-01-15", "2026-11-30"), 319);
    }
}
