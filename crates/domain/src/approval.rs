//! The approval workflow of a reporting form for one unit and one period (phê duyệt biểu mẫu):
//! a commune officer fills the form (draft) and submits it; the level above (a provincial
//! officer) approves it or returns it with a comment; an approved form can be locked, and a
//! locked one changes only after an unlock by the approving level.
//!
//! ```text
//!            submit            approve            lock
//!   draft ──────────▶ submitted ──────▶ approved ──────▶ locked
//!     ▲                  │    ▲            │   ▲            │
//!     │           return │    │ submit     │   └── unlock ──┘
//!     │                  ▼    │            │ return
//!     └─ (editable) ─ returned ◀───────────┘
//! ```
//!
//! Values of a form may be written only while it is a draft or returned ([`State::editable`]).
//! Pure logic: the store supplies who is acting ([`Who`]) and the stored state.

use crate::access::{Action, Role};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a form of one unit and period stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Being filled (also: nothing done yet).
    #[default]
    Draft,
    /// Sent to the level above; values can no longer change.
    Submitted,
    /// Accepted by the level above.
    Approved,
    /// Closed: changes only after an unlock.
    Locked,
    /// Sent back with a comment; editable again.
    Returned,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Draft,
        State::Submitted,
        State::Approved,
        State::Locked,
        State::Returned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Submitted => "submitted",
            State::Approved => "approved",
            State::Locked => "locked",
            State::Returned => "returned",
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            State::Draft => "chưa nộp",
            State::Submitted => "đã nộp",
            State::Approved => "đã duyệt",
            State::Locked => "đã khóa",
            State::Returned => "bị trả lại",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            State::Draft => "not submitted",
            State::Submitted => "submitted",
            State::Approved => "approved",
            State::Locked => "locked",
            State::Returned => "returned",
        }
    }

    /// Whether the form's values may be written (draft or returned).
    pub fn editable(self) -> bool {
        matches!(self, State::Draft | State::Returned)
    }

    /// Whether the form counts as submitted (submitted, approved or locked).
    pub fn is_submitted(self) -> bool {
        !self.editable()
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        State::ALL
            .into_iter()
            .find(|x| x.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown approval state {s:?}: expected draft, submitted, approved, locked or returned"
                )
            })
    }
}

/// A step of the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Submit,
    Approve,
    Return,
    Lock,
    Unlock,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::Submit,
        Step::Approve,
        Step::Return,
        Step::Lock,
        Step::Unlock,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Submit => "submit",
            Step::Approve => "approve",
            Step::Return => "return",
            Step::Lock => "lock",
            Step::Unlock => "unlock",
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Step::Submit => "Nộp",
            Step::Approve => "Duyệt",
            Step::Return => "Trả lại",
            Step::Lock => "Khóa",
            Step::Unlock => "Mở khóa",
        }
    }

    /// Whether the step is taken by the level above (approving level), not by the unit.
    pub fn by_level_above(self) -> bool {
        self != Step::Submit
    }

    /// The states the step starts from.
    pub fn from_states(self) -> &'static [State] {
        match self {
            Step::Submit => &[State::Draft, State::Returned],
            Step::Approve => &[State::Submitted],
            Step::Return => &[State::Submitted, State::Approved],
            Step::Lock => &[State::Approved],
            Step::Unlock => &[State::Locked],
        }
    }

    /// The state the step leads to.
    pub fn to_state(self) -> State {
        match self {
            Step::Submit => State::Submitted,
            Step::Approve => State::Approved,
            Step::Return => State::Returned,
            Step::Lock => State::Locked,
            Step::Unlock => State::Approved,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Step {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Step::ALL
            .into_iter()
            .find(|x| x.as_str() == s.trim())
            .ok_or_else(|| {
                format!("unknown action {s:?}: expected submit, approve, return, lock or unlock")
            })
    }
}

/// Who is acting, as the store found it: the role, and where the unit lies in their scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Who {
    pub role: Role,
    /// The unit lies within the actor's administrative units (they may write its data).
    pub in_scope: bool,
    /// One of the actor's scope units lies above the unit (a province over its communes): the
    /// actor reports at a level above the unit's. Global administrators are above everything.
    pub above: bool,
}

impl Who {
    /// A global administrator: everywhere, above everything.
    pub fn global(role: Role) -> Who {
        Who {
            role,
            in_scope: true,
            above: true,
        }
    }
}

/// Why a step is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The actor may not take this step for this unit.
    NotAllowed,
    /// The form is not in a state the step starts from.
    WrongState,
    /// A return needs a comment saying what to change.
    CommentNeeded,
}

/// A refused step, with its reason in Vietnamese and in English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub kind: Refusal,
    pub vi: String,
    pub en: String,
}

impl Refused {
    /// The reason in both languages, Vietnamese first.
    pub fn message(&self) -> String {
        format!("{} ({})", self.vi, self.en)
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Whether `who` may take `step` at all (whatever the state): submitting needs the right to
/// write the unit's data; every other step needs a provincial officer or an administrator at a
/// level above the unit — so a commune officer never approves their own commune's form.
pub fn may(step: Step, who: &Who) -> Result<(), Refused> {
    let ok = match step {
        Step::Submit => who.role.may(Action::WriteData) && who.in_scope,
        _ => matches!(who.role, Role::Admin | Role::ProvinceOfficer) && who.in_scope && who.above,
    };
    if ok {
        return Ok(());
    }
    let (vi, en) = match step {
        Step::Submit if !who.role.may(Action::WriteData) => (
            format!("vai trò {} không được nộp biểu", who.role.label_vi()),
            format!("the role {} may not submit forms", who.role.as_str()),
        ),
        Step::Submit => (
            "đơn vị này ngoài phạm vi quản lý của bạn".to_string(),
            "this unit is outside your administrative units".to_string(),
        ),
        s if !who.in_scope => (
            format!(
                "không được {} biểu của đơn vị ngoài phạm vi quản lý của bạn",
                s.label_vi().to_lowercase()
            ),
            format!("you may not {s} forms of units outside your administrative units"),
        ),
        s => (
            format!(
                "chỉ cấp trên của đơn vị (cán bộ cấp tỉnh) mới được {} biểu",
                s.label_vi().to_lowercase()
            ),
            format!("only the level above the unit (a provincial officer) may {s} its form"),
        ),
    };
    Err(Refused {
        kind: Refusal::NotAllowed,
        vi,
        en,
    })
}

/// Take `step` from `state`: the new state, or why not. A return needs a `comment` (blank
/// counts as none). Who may is checked first, then the state, then the comment.
pub fn transition(
    state: State,
    step: Step,
    who: &Who,
    comment: Option<&str>,
) -> Result<State, Refused> {
    may(step, who)?;
    if !step.from_states().contains(&state) {
        let (vi, en) = wrong_state(state, step);
        return Err(Refused {
            kind: Refusal::WrongState,
            vi,
            en,
        });
    }
    if step == Step::Return && comment.is_none_or(|c| c.trim().is_empty()) {
        return Err(Refused {
            kind: Refusal::CommentNeeded,
            vi: "trả lại biểu phải kèm ý kiến nêu rõ cần sửa gì".into(),
            en: "a return needs a comment saying what to change".into(),
        });
    }
    Ok(step.to_state())
}

fn wrong_state(state: State, step: Step) -> (String, String) {
    let why_vi = match (step, state) {
        (Step::Submit, _) => "chỉ nộp được biểu chưa nộp hoặc bị trả lại",
        (Step::Approve, _) => "chỉ duyệt được biểu đã nộp",
        (Step::Return, State::Locked) => "biểu đã khóa: phải mở khóa trước khi trả lại",
        (Step::Return, _) => "chỉ trả lại được biểu đã nộp hoặc đã duyệt",
        (Step::Lock, _) => "chỉ khóa được biểu đã duyệt",
        (Step::Unlock, _) => "chỉ mở khóa được biểu đã khóa",
    };
    let why_en = match (step, state) {
        (Step::Submit, _) => "only a draft or returned form can be submitted",
        (Step::Approve, _) => "only a submitted form can be approved",
        (Step::Return, State::Locked) => "the form is locked: unlock it before returning it",
        (Step::Return, _) => "only a submitted or approved form can be returned",
        (Step::Lock, _) => "only an approved form can be locked",
        (Step::Unlock, _) => "only a locked form can be unlocked",
    };
    (
        format!("biểu đang ở trạng thái «{}»: {why_vi}", state.label_vi()),
        format!("the form is {}: {why_en}", state.label_en()),
    )
}

/// The reason a value cannot be written: its form is submitted, approved or locked for the
/// unit and period. `unit` names the unit (`06877 Xã Đông Ngũ`).
pub fn not_editable(form: &str, unit: &str, period: &str, state: State) -> String {
    let (vi_then, en_then) = match state {
        State::Locked => (
            "cấp duyệt phải mở khóa và trả lại biểu trước khi sửa số liệu",
            "the approving level must unlock and return it before its values change",
        ),
        _ => (
            "cấp duyệt phải trả lại biểu trước khi sửa số liệu",
            "the approving level must return it before its values change",
        ),
    };
    format!(
        "biểu {form} của đơn vị {unit} kỳ {period} {}: {vi_then} (form {form} of unit {unit} for period {period} is {}: {en_then})",
        state.label_vi(),
        state.label_en()
    )
}

/// Whether a form submitted at `submitted_on` (`YYYY-MM-DD`, local date) met its `deadline`.
pub fn on_time(submitted_on: &str, deadline: &str) -> bool {
    submitted_on <= deadline
}

/// Where a unit stands against a form's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timeliness {
    /// Submitted (or further) by the deadline.
    OnTime,
    /// Submitted after the deadline.
    Late,
    /// Not submitted, and the deadline has passed.
    Overdue,
    /// Not submitted yet, before the deadline.
    Pending,
}

impl Timeliness {
    /// From the state, the local date of the last submission, the deadline and today.
    pub fn of(state: State, submitted_on: Option<&str>, deadline: &str, today: &str) -> Self {
        match (state.is_submitted(), submitted_on) {
            (true, Some(d)) if on_time(d, deadline) => Timeliness::OnTime,
            (true, _) => Timeliness::Late,
            (false, _) if today > deadline => Timeliness::Overdue,
            (false, _) => Timeliness::Pending,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Timeliness::OnTime => "on_time",
            Timeliness::Late => "late",
            Timeliness::Overdue => "overdue",
            Timeliness::Pending => "pending",
        }
    }
    pub fn label_vi(self) -> &'static str {
        match self {
            Timeliness::OnTime => "đúng hạn",
            Timeliness::Late => "nộp muộn",
            Timeliness::Overdue => "quá hạn",
            Timeliness::Pending => "chưa đến hạn",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commune_officer() -> Who {
        Who {
            role: Role::CommuneOfficer,
            in_scope: true,
            above: false,
        }
    }
    fn province_officer() -> Who {
        Who {
            role: Role::ProvinceOfficer,
            in_scope: true,
            above: true,
        }
    }

    /// Every (state, step) pair: the allowed ones lead where the diagram says, the others are
    /// refused as a wrong state, for someone who may take every step.
    #[test]
    fn every_transition_from_every_state() {
        let admin = Who::global(Role::Admin);
        let allowed = [
            (State::Draft, Step::Submit, State::Submitted),
            (State::Returned, Step::Submit, State::Submitted),
            (State::Submitted, Step::Approve, State::Approved),
            (State::Submitted, Step::Return, State::Returned),
            (State::Approved, Step::Return, State::Returned),
            (State::Approved, Step::Lock, State::Locked),
            (State::Locked, Step::Unlock, State::Approved),
        ];
        for state in State::ALL {
            for step in Step::ALL {
                let got = transition(state, step, &admin, Some("sửa dòng 2"));
                match allowed.iter().find(|(s, t, _)| *s == state && *t == step) {
                    Some((_, _, to)) => assert_eq!(got, Ok(*to), "{state} {step}"),
                    None => {
                        let e = got.expect_err(&format!("{state} {step}"));
                        assert_eq!(e.kind, Refusal::WrongState, "{state} {step}");
                        assert!(e.vi.contains(state.label_vi()), "{}", e.vi);
                        assert!(e.en.contains(state.label_en()), "{}", e.en);
                    }
                }
            }
        }
    }

    #[test]
    fn a_commune_officer_submits_but_never_approves_their_own_form() {
        let me = commune_officer();
        assert_eq!(
            transition(State::Draft, Step::Submit, &me, None),
            Ok(State::Submitted)
        );
        assert_eq!(
            transition(State::Returned, Step::Submit, &me, None),
            Ok(State::Submitted)
        );
        for step in [Step::Approve, Step::Return, Step::Lock, Step::Unlock] {
            let e = transition(State::Submitted, step, &me, Some("x")).unwrap_err();
            assert_eq!(e.kind, Refusal::NotAllowed, "{step}");
            assert!(e.vi.contains("cấp trên"), "{}", e.vi);
        }
        let elsewhere = Who {
            in_scope: false,
            ..me
        };
        let e = transition(State::Draft, Step::Submit, &elsewhere, None).unwrap_err();
        assert_eq!(e.kind, Refusal::NotAllowed);
        assert!(e.en.contains("outside"), "{}", e.en);
    }

    #[test]
    fn the_province_approves_returns_locks_and_unlocks_its_communes() {
        let p = province_officer();
        assert_eq!(
            transition(State::Draft, Step::Submit, &p, None),
            Ok(State::Submitted),
            "the level above may also submit for a unit it writes"
        );
        assert_eq!(
            transition(State::Submitted, Step::Approve, &p, None),
            Ok(State::Approved)
        );
        assert_eq!(
            transition(State::Approved, Step::Lock, &p, None),
            Ok(State::Locked)
        );
        assert_eq!(
            transition(State::Locked, Step::Unlock, &p, None),
            Ok(State::Approved)
        );
        assert_eq!(
            transition(State::Approved, Step::Return, &p, Some("Thiếu số hộ nghèo")),
            Ok(State::Returned)
        );
        // a province officer whose scope is the unit itself is not above it
        let own = Who { above: false, ..p };
        assert_eq!(
            transition(State::Submitted, Step::Approve, &own, None)
                .unwrap_err()
                .kind,
            Refusal::NotAllowed
        );
        // another province's commune
        let other = Who {
            in_scope: false,
            above: false,
            ..p
        };
        let e = transition(State::Submitted, Step::Approve, &other, None).unwrap_err();
        assert_eq!(e.kind, Refusal::NotAllowed);
        assert!(e.vi.contains("ngoài phạm vi"), "{}", e.vi);
    }

    #[test]
    fn viewers_and_api_clients() {
        let viewer = Who {
            role: Role::Viewer,
            in_scope: true,
            above: true,
        };
        for step in Step::ALL {
            assert_eq!(
                may(step, &viewer).unwrap_err().kind,
                Refusal::NotAllowed,
                "{step}"
            );
        }
        let client = Who {
            role: Role::ApiClient,
            in_scope: true,
            above: true,
        };
        assert!(may(Step::Submit, &client).is_ok(), "a sync job may submit");
        assert!(may(Step::Approve, &client).is_err(), "but never approve");
    }

    #[test]
    fn a_return_needs_a_comment() {
        let p = province_officer();
        for c in [None, Some(""), Some("   ")] {
            let e = transition(State::Submitted, Step::Return, &p, c).unwrap_err();
            assert_eq!(e.kind, Refusal::CommentNeeded);
            assert!(e.message().contains("ý kiến") && e.message().contains("comment"));
        }
    }

    #[test]
    fn a_locked_form_changes_only_after_an_unlock() {
        let p = province_officer();
        let e = transition(State::Locked, Step::Return, &p, Some("sửa")).unwrap_err();
        assert_eq!(e.kind, Refusal::WrongState);
        assert!(e.vi.contains("mở khóa"), "{}", e.vi);
        let s = transition(State::Locked, Step::Unlock, &p, None).unwrap();
        assert_eq!(
            transition(s, Step::Return, &p, Some("sửa")),
            Ok(State::Returned)
        );
    }

    #[test]
    fn editable_states_and_names() {
        let editable: Vec<State> = State::ALL.into_iter().filter(|s| s.editable()).collect();
        assert_eq!(editable, [State::Draft, State::Returned]);
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>(), Ok(s));
        }
        for s in Step::ALL {
            assert_eq!(s.as_str().parse::<Step>(), Ok(s));
        }
        assert!("publish".parse::<Step>().is_err());
        let m = not_editable("BM-DTTS-01", "06877 Xã Đông Ngũ", "2025", State::Locked);
        assert!(m.starts_with("biểu BM-DTTS-01 của đơn vị 06877 Xã Đông Ngũ kỳ 2025 đã khóa"));
        assert!(m.contains("is locked"));
    }

    #[test]
    fn timeliness_against_the_deadline() {
        use Timeliness::*;
        let d = "2026-01-15";
        assert_eq!(
            Timeliness::of(State::Submitted, Some("2026-01-15"), d, "2026-03-01"),
            OnTime
        );
        assert_eq!(
            Timeliness::of(State::Locked, Some("2026-01-16"), d, "2026-03-01"),
            Late
        );
        assert_eq!(Timeliness::of(State::Draft, None, d, "2026-01-16"), Overdue);
        assert_eq!(
            Timeliness::of(State::Returned, Some("2026-01-10"), d, "2026-01-15"),
            Pending,
            "returned counts as not submitted"
        );
    }
}
