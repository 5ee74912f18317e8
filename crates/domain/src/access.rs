//! Who may do what: roles, actions, and the password policy. Scopes (which administrative
//! units) are checked by the store against the unit hierarchy; this module says which
//! actions a role allows at all.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// System administrator: everything, everywhere, including accounts and the audit log.
    Admin,
    /// Provincial officer: configures the catalogue, enters, imports and publishes data of
    /// their province, manages its villages and lineage weights.
    ProvinceOfficer,
    /// Commune officer: enters and imports data of their commune and its villages.
    CommuneOfficer,
    /// Reads the data of their units; writes nothing.
    Viewer,
    /// A machine client (e.g. the national hub or a sync job) using API tokens.
    ApiClient,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read unpublished data values of units in scope.
    ReadData,
    /// Write data values of units in scope.
    WriteData,
    /// Publish data values of units in scope (make them visible to everyone).
    Publish,
    /// Edit the indicator catalogue.
    EditCatalogue,
    /// Register villages for units in scope.
    EditUnits,
    /// Set the shares of split pre-2025 units, for units in scope.
    EditLineage,
    /// Create and change accounts.
    ManageUsers,
    /// Read and export the audit log.
    ReadAudit,
    /// See personal data unmasked (phone, ID number, date of birth) for people in scope.
    SeePersonalData,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::ProvinceOfficer,
        Role::CommuneOfficer,
        Role::Viewer,
        Role::ApiClient,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::ProvinceOfficer => "province_officer",
            Role::CommuneOfficer => "commune_officer",
            Role::Viewer => "viewer",
            Role::ApiClient => "api_client",
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Role::Admin => "Quản trị hệ thống",
            Role::ProvinceOfficer => "Cán bộ cấp tỉnh",
            Role::CommuneOfficer => "Cán bộ cấp xã (nhập liệu)",
            Role::Viewer => "Người xem",
            Role::ApiClient => "Ứng dụng kết nối (API)",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Role::Admin => "System administrator",
            Role::ProvinceOfficer => "Provincial officer",
            Role::CommuneOfficer => "Commune officer (data entry)",
            Role::Viewer => "Viewer",
            Role::ApiClient => "API client",
        }
    }

    /// Whether the role allows an action at all (the unit scope is checked separately).
    pub fn may(self, a: Action) -> bool {
        use Action::*;
        match self {
            Role::Admin => true,
            Role::ProvinceOfficer => matches!(
                a,
                ReadData
                    | WriteData
                    | Publish
                    | EditCatalogue
                    | EditUnits
                    | EditLineage
                    | SeePersonalData
            ),
            Role::CommuneOfficer => matches!(a, ReadData | WriteData | EditUnits),
            Role::Viewer => matches!(a, ReadData),
            Role::ApiClient => matches!(a, ReadData | WriteData),
        }
    }

    /// Whether the role works everywhere, without a unit scope.
    pub fn is_global(self) -> bool {
        self == Role::Admin
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| format!("unknown role {s:?}: expected admin, province_officer, commune_officer, viewer or api_client"))
    }
}

/// User names: 3–64 characters, lower-case letters, digits, `.`, `_`, `-`.
pub fn check_username(u: &str) -> Result<(), String> {
    let ok = (3..=64).contains(&u.len())
        && u.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
        && u.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err("a user name has 3–64 characters: lower-case letters, digits, . _ - (starting with a letter or digit)".into())
    }
}

const COMMON: &[&str] = &[
    "password",
    "password1",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "matkhau123",
    "matkhau",
    "admin12345",
    "abc123456",
    "iloveyou",
    "1q2w3e4r5t",
    "12345678910",
    "administrator",
];

/// The password policy: at least 10 characters, and either 16 or more (a passphrase) or at
/// least three of lower case, upper case, digits and other characters; not the user name;
/// not a well-known password.
pub fn check_password(password: &str, username: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < 10 {
        return Err("the password needs at least 10 characters".into());
    }
    if n > 256 {
        return Err("the password is longer than 256 characters".into());
    }
    let lower = password.to_lowercase();
    if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        return Err("the password must not contain the user name".into());
    }
    if COMMON.contains(&lower.as_str()) {
        return Err("this password is too common".into());
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if n < 16 && classes < 3 {
        return Err("use 16 or more characters, or mix three of: lower case, upper case, digits, other characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_they_should() {
        assert!(Role::Admin.may(Action::ManageUsers));
        assert!(!Role::ProvinceOfficer.may(Action::ManageUsers));
        assert!(Role::CommuneOfficer.may(Action::WriteData));
        assert!(!Role::CommuneOfficer.may(Action::EditCatalogue));
        assert!(!Role::Viewer.may(Action::WriteData));
        assert!(!Role::ApiClient.may(Action::ReadAudit));
        assert_eq!("viewer".parse::<Role>(), Ok(Role::Viewer));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn password_policy() {
        assert!(check_password("short", "canbo").is_err());
        assert!(
            check_password("alllowercaseletters", "canbo").is_ok(),
            "a long passphrase is fine"
        );
        assert!(
            check_password("lowercase12", "canbo").is_err(),
            "two classes, short"
        );
        assert!(check_password("Lowercase12", "canbo").is_ok());
        assert!(check_password("Nguyenvana2025", "nguyenvana").is_err());
        assert!(check_password("Password1", "canbo").is_err());
        assert!(check_password("Mật-khẩu-2025", "canbo").is_ok());
    }

    #[test]
    fn usernames() {
        assert!(check_username("can.bo-xa_01").is_ok());
        assert!(check_username("Admin").is_err());
        assert!(check_username("ab").is_err());
        assert!(check_username("x'; DROP").is_err());
    }
}
